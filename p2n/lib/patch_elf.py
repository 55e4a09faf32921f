"""Give a package's ELF files a RUNPATH to the libraries they need (like autoPatchelfHook).

Loaded by the builders (install_wheel.py) from the path in ``patchElfScript``
when the package has native code. For every ELF file under the output:
keep RUNPATH entries relative to ``$ORIGIN`` (auditwheel's ``*.libs``
folders) or inside the output, drop the build machine's, and add the
directory of each needed library that is shipped in the package itself or
found in ``libraryDirs`` (the ``lib/`` of the nixpkgs packages named by
``libraryNames``). glibc's own libraries and libpython are left to the
loader and the interpreter. Libraries found nowhere are reported by name,
with the override that adds them, and fail the build.
"""

from __future__ import annotations

import os
import subprocess
import sys

# glibc's libraries: the interpreter has loaded them, or nixpkgs' loader finds them itself.
GLIBC = frozenset(
    {
        "libc.so.6",
        "libm.so.6",
        "libpthread.so.0",
        "libdl.so.2",
        "librt.so.1",
        "libutil.so.1",
        "libresolv.so.2",
        "libanl.so.1",
        "libmvec.so.1",
        "libnsl.so.1",
        "ld-linux-x86-64.so.2",
        "ld-linux-aarch64.so.1",
        "ld-linux.so.2",
    }
)

# Where a library usually comes from in nixpkgs, to suggest the override.
SUGGESTIONS = {
    "libstdc++.so.6": "stdenv.cc.cc.lib",
    "libgcc_s.so.1": "stdenv.cc.cc.lib",
    "libgomp.so.1": "stdenv.cc.cc.lib",
    "libatomic.so.1": "stdenv.cc.cc.lib",
    "libz.so.1": "zlib",
    "libssl.so.3": "openssl",
    "libcrypto.so.3": "openssl",
    "libffi.so.8": "libffi",
    "libbz2.so.1": "bzip2",
    "liblzma.so.5": "xz",
    "libexpat.so.1": "expat",
    "libsqlite3.so.0": "sqlite",
    "libuuid.so.1": "libuuid",
    "libgfortran.so.5": "gfortran.cc.lib",
    "libquadmath.so.0": "gfortran.cc.lib",
    "libGL.so.1": "libGL",
    "libglib-2.0.so.0": "glib",
    "libX11.so.6": "xorg.libX11",
    "libxcb.so.1": "xorg.libxcb",
    "libpq.so.5": "postgresql.lib",
    "libxml2.so.2": "libxml2",
    "libxslt.so.1": "libxslt",
    "libjpeg.so.8": "libjpeg",
    "libpng16.so.16": "libpng",
    "libcurl.so.4": "curl",
}


def is_elf(path: str) -> bool:
    """A regular file (not a link) starting with the ELF magic."""
    if os.path.islink(path) or not os.path.isfile(path):
        return False
    with open(path, "rb") as handle:
        return handle.read(4) == b"\x7fELF"


def elf_files(root: str) -> list[str]:
    """Every ELF file under ``root``, sorted (so patching order is deterministic)."""
    found = []
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        found.extend(os.path.join(directory, f) for f in sorted(files))
    return [path for path in found if is_elf(path)]


def _patchelf(patchelf: str, *args: str) -> str:
    result = subprocess.run([patchelf, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"patchelf {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout.strip()


def _dynamic(patchelf: str, path: str) -> bool:
    """Whether the file is dynamically linked (object files and static archives are not)."""
    result = subprocess.run([patchelf, "--print-needed", path], capture_output=True, text=True)
    return result.returncode == 0


def patch_tree(root: str, package: str, patchelf: str, library_dirs: list[str], names: str) -> int:
    """Patch every ELF file under ``root``; return how many were changed (exit on failure)."""
    elves = [path for path in elf_files(root) if _dynamic(patchelf, path)]
    shipped: dict[str, str] = {}
    for path in elves:
        shipped.setdefault(os.path.basename(path), os.path.dirname(path))
    available: dict[str, str] = {}
    for directory in library_dirs:
        if os.path.isdir(directory):
            for name in sorted(os.listdir(directory)):
                available.setdefault(name, directory)
    unresolved: dict[str, list[str]] = {}
    changed = 0
    for path in elves:
        here = os.path.dirname(path)
        needed = _patchelf(patchelf, "--print-needed", path).split()
        old = [p for p in _patchelf(patchelf, "--print-rpath", path).split(":") if p]
        keep = [p for p in old if p.startswith("$ORIGIN") or p.startswith(root)]
        search = [p.replace("$ORIGIN", here) for p in keep]
        entries = list(keep)
        for soname in needed:
            if soname in GLIBC or soname.startswith(("libpython", "ld-linux")):
                continue
            if any(os.path.exists(os.path.join(d, soname)) for d in search):
                continue
            if soname in shipped:
                relative = os.path.relpath(shipped[soname], here)
                entry = "$ORIGIN" if relative == "." else f"$ORIGIN/{relative}"
                directory = shipped[soname]
            elif soname in available:
                entry = directory = available[soname]
            else:
                unresolved.setdefault(soname, []).append(os.path.relpath(path, root))
                continue
            search.append(directory)
            if entry not in entries:
                entries.append(entry)
        if entries != old:
            _patchelf(patchelf, "--set-rpath", ":".join(entries), path)
            changed += 1
    if unresolved:
        _report(package, unresolved, names)
    return changed


def _report(package: str, unresolved: dict[str, list[str]], names: str) -> None:
    lines = [f"p2n: {package}: native libraries not found:"]
    for soname, users in sorted(unresolved.items()):
        shown = ", ".join(users[:3]) + (f" and {len(users) - 3} more" if len(users) > 3 else "")
        lines.append(f"p2n:   {soname} (needed by {shown})")
    searched = names or "none"
    lines.append(f"p2n: searched the lib/ of the runtime libraries: {searched}")
    attrs = sorted({SUGGESTIONS.get(s, f"<nixpkgs package with {s}>") for s in unresolved})
    listed = ", ".join(f'"{a}"' for a in attrs)
    lines.append(
        f"p2n: fix: add the nixpkgs packages that provide them in pyproject.toml: "
        f"[tool.p2n.packages.{package}] libraries = [{listed}]"
    )
    print("\n".join(lines), file=sys.stderr)
    sys.exit(1)


def patch_from_environment(root: str) -> None:
    """Entry point for builders: read the derivation's attributes and patch ``root``."""
    dirs = [d for d in os.environ.get("libraryDirs", "").split(":") if d]
    changed = patch_tree(
        root, os.environ["pname"], os.environ["patchelf"], dirs, os.environ.get("libraryNames", "")
    )
    print(f"p2n: set the RUNPATH of {changed} ELF files")
