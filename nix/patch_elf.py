"""Make a package's ELF files run under Nix (like autoPatchelfHook).

Loaded by the builders (install_wheel.py, build_wheel.py) from the path in
``patchElfScript`` when the package (or a build requirement) has native code.
For every ELF file under the output:
keep RUNPATH entries relative to ``$ORIGIN`` (auditwheel's ``*.libs``
folders) or inside the output, drop the build machine's, and add the
directory of each needed library that is shipped in the package itself or
found in ``libraryDirs`` (the ``lib/`` of the nixpkgs packages named by
``libraryNames``). glibc's own libraries and libpython are left to the
loader and the interpreter. Libraries found nowhere are reported by name,
with the override that adds them, and fail the build.

Programs (files with an ELF interpreter: uv_build's ``uv-build``, ninja,
cmake, uv, ruff ...) name ``/lib64/ld-linux-x86-64.so.2``, which neither the
Nix sandbox nor NixOS has: they get ``dynamicLinker`` (nixpkgs'
``stdenv.cc.bintools.dynamicLinker``) as interpreter, and its directory
(glibc's ``lib/``) joins their RUNPATH for glibc's libraries.

The dynamic section (needed libraries, RUNPATH) is read here (``read_dynamic``),
so patchelf runs only for files whose RUNPATH changes: two or three patchelf
processes per ELF file cost ~10 ms each through nixpkgs' wrapper-free binary
and more through the stand-in's, for files that mostly need nothing. A file
this reader does not understand is asked of patchelf, as before.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from typing import BinaryIO

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
    found: list[str] = []
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        found.extend(os.path.join(directory, f) for f in sorted(files))
    return [path for path in found if is_elf(path)]


class ElfError(ValueError):
    """An ELF file this reader does not handle; patchelf is asked instead."""


_PT_LOAD, _PT_DYNAMIC, _PT_INTERP = 1, 2, 3
_DT_NULL, _DT_NEEDED, _DT_STRTAB, _DT_RPATH, _DT_RUNPATH = 0, 1, 5, 15, 29


def _program_headers(handle: BinaryIO) -> tuple[str, bool, list[tuple[int, int, int, int]]]:
    """Byte order, width and ``(p_type, p_offset, p_vaddr, p_filesz)`` of every segment."""
    ident = handle.read(16)
    if len(ident) < 16 or ident[:4] != b"\x7fELF" or ident[4] not in (1, 2):
        raise ElfError("not an ELF file")
    if ident[5] not in (1, 2):
        raise ElfError("unknown byte order")
    order = "<" if ident[5] == 1 else ">"
    wide = ident[4] == 2
    header_format = order + ("HHIQQQIHHHHHH" if wide else "HHIIIIIHHHHHH")
    header = _unpack(header_format, handle.read(struct.calcsize(header_format)))
    phoff, phentsize, phnum = header[4], header[8], header[9]
    if phnum == 0xFFFF:
        raise ElfError("extended program header count")
    # p_type, p_offset, p_vaddr, p_filesz (ELF64 and ELF32 order their fields differently)
    program_format = order + ("IIQQQQQQ" if wide else "IIIIIIII")
    if phnum and phentsize < struct.calcsize(program_format):
        raise ElfError("short program headers")
    segments = []
    for index in range(phnum):
        handle.seek(phoff + index * phentsize)
        fields = _unpack(program_format, handle.read(struct.calcsize(program_format)))
        if wide:
            segments.append((fields[0], fields[2], fields[3], fields[5]))
        else:
            segments.append((fields[0], fields[1], fields[2], fields[4]))
    return order, wide, segments


def read_interpreter(path: str) -> str | None:
    """The program interpreter (PT_INTERP) of an ELF file; None for libraries and static files."""
    with open(path, "rb") as handle:
        _order, _wide, segments = _program_headers(handle)
        interp = [s for s in segments if s[0] == _PT_INTERP]
        if not interp:
            return None
        handle.seek(interp[0][1])
        raw = handle.read(interp[0][3])
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def read_dynamic(path: str) -> tuple[list[str], list[str]] | None:
    """``(needed, rpath)`` of an ELF file, as patchelf prints them; None without a dynamic section.

    ``rpath`` is DT_RUNPATH, else DT_RPATH, split at ``:``. 32/64-bit, either byte order.
    """
    with open(path, "rb") as handle:
        order, wide, segments = _program_headers(handle)
        if not segments:
            return None  # an object file or archive member: nothing is loaded from it
        dynamic = [s for s in segments if s[0] == _PT_DYNAMIC]
        if not dynamic:
            return None
        entry_format = order + ("qQ" if wide else "iI")
        entry_size = struct.calcsize(entry_format)
        handle.seek(dynamic[0][1])
        raw = handle.read(dynamic[0][3])
        entries = []
        for start in range(0, len(raw) - entry_size + 1, entry_size):
            tag, value = _unpack(entry_format, raw[start : start + entry_size])
            if tag == _DT_NULL:
                break
            entries.append((tag, value))
        strtabs = [value for tag, value in entries if tag == _DT_STRTAB]
        if not strtabs:
            raise ElfError("no string table")
        loads = [s for s in segments if s[0] == _PT_LOAD and s[2] <= strtabs[0] < s[2] + s[3]]
        if not loads:
            raise ElfError("string table outside the loaded segments")
        table = strtabs[0] - loads[0][2] + loads[0][1]

        def string(offset: int) -> str:
            handle.seek(table + offset)
            chunk = b""
            while b"\0" not in chunk:
                more = handle.read(256)
                if not more:
                    raise ElfError("unterminated string")
                chunk += more
            return chunk[: chunk.index(b"\0")].decode("utf-8", "surrogateescape")

        needed = [string(value) for tag, value in entries if tag == _DT_NEEDED]
        runpath = [string(value) for tag, value in entries if tag == _DT_RUNPATH]
        rpath = [string(value) for tag, value in entries if tag == _DT_RPATH]
    found = (runpath or rpath or [""])[0]
    return needed, [entry for entry in found.split(":") if entry]


def _unpack(layout: str, data: bytes) -> tuple[int, ...]:
    if len(data) != struct.calcsize(layout):
        raise ElfError("truncated")
    return struct.unpack(layout, data)


def _patchelf(patchelf: str, *args: str) -> str:
    result = subprocess.run([patchelf, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"patchelf {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout.strip()


def dynamic_info(patchelf: str, path: str) -> tuple[list[str], list[str]] | None:
    """``(needed, rpath)``, or None if the file is not dynamically linked (object files, static).

    Read from the file; asked of patchelf if the reader does not understand it.
    """
    try:
        return read_dynamic(path)
    except (ElfError, OSError):
        pass
    result = subprocess.run([patchelf, "--print-needed", path], capture_output=True, text=True)
    if result.returncode != 0:
        return None
    rpath = _patchelf(patchelf, "--print-rpath", path)
    return result.stdout.split(), [p for p in rpath.split(":") if p]


def patch_tree(
    root: str,
    package: str,
    patchelf: str,
    library_dirs: list[str],
    names: str,
    dynamic_linker: str | None = None,
) -> int:
    """Patch every ELF file under ``root``; return how many were changed (exit on failure).

    ``dynamic_linker``: the loader programs get as interpreter (None: programs keep theirs).
    """
    dynamic = {path: dynamic_info(patchelf, path) for path in elf_files(root)}
    elves = [path for path, info in dynamic.items() if info is not None]
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
        info = dynamic[path]
        assert info is not None
        needed, old = info
        interpreter = _interpreter(patchelf, path) if dynamic_linker else None
        keep = [p for p in old if p.startswith("$ORIGIN") or p.startswith(root)]
        search = [p.replace("$ORIGIN", here) for p in keep]
        entries = list(keep)
        for soname in needed:
            if soname in GLIBC or soname.startswith(("libpython", "ld-linux")):
                if interpreter is not None and dynamic_linker:
                    # A program loads glibc itself: from the directory of its loader.
                    glibc = os.path.dirname(dynamic_linker)
                    if glibc not in entries:
                        entries.append(glibc)
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
        arguments = []
        if interpreter is not None and dynamic_linker and interpreter != dynamic_linker:
            arguments += ["--set-interpreter", dynamic_linker]
        if entries != old:
            arguments += ["--set-rpath", ":".join(entries)]
        if arguments:
            _patchelf(patchelf, *arguments, path)
            changed += 1
    if unresolved:
        _report(package, unresolved, names)
    return changed


def _interpreter(patchelf: str, path: str) -> str | None:
    """The file's ELF interpreter (read here; asked of patchelf if the reader fails)."""
    try:
        return read_interpreter(path)
    except (ElfError, OSError):
        pass
    result = subprocess.run([patchelf, "--print-interpreter", path], capture_output=True, text=True)
    return result.stdout.strip() or None if result.returncode == 0 else None


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
        root,
        os.environ["pname"],
        os.environ["patchelf"],
        dirs,
        os.environ.get("libraryNames", ""),
        os.environ.get("dynamicLinker") or None,
    )
    print(f"p2n: patched {changed} ELF files under {root} (interpreter, RUNPATH)")
