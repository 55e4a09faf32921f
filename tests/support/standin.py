"""A stand-in for nixpkgs, built from the host interpreter, for tests.

Real users have nixpkgs; the test machines cannot fetch it. Generated flakes
keep ``inputs.nixpkgs.url = "github:NixOS/nixpkgs/..."`` and tests build them
with ``--override-input nixpkgs path:<stand-in>``. The stand-in honours exactly
the contract in ``docs/nixpkgs-contract.md`` and nothing more, so generated
code cannot come to rely on anything real nixpkgs might not give it.

The stand-in is a flake directory holding a copy of the host CPython (the base
interpreter of the Python running the tests), the shared libraries ``ldd``
finds for it, a static bash and patchelf. Inside Nix, a derivation patches the
copy into a nixpkgs-shaped ``python3XY`` (see ``_BUILD_PYTHON``). It is
generated on demand (~80 MB with the stdlib's bytecode, a couple of seconds), never
committed.

``python -m tests.support.standin DEST`` makes one by hand.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

# The only Nix system the stand-in serves: the host's.
STANDIN_SYSTEM = "x86_64-linux"

# Parts of the stdlib a build never needs (or that would drag in X11, NIS,
# the tests); site-packages/dist-packages hold the host's own installs, and
# sitecustomize/EXTERNALLY-MANAGED are Debian's policy, not CPython's.
_STDLIB_SKIP_NAMES = frozenset(
    {
        "site-packages",
        "dist-packages",
        "test",
        "tests",
        "idlelib",
        "tkinter",
        "turtledemo",
        "ensurepip",
        "__pycache__",
        "lib-dynload",
        "sitecustomize.py",
        "EXTERNALLY-MANAGED",
    }
)
_STDLIB_SKIP_SUFFIXES = (".a", ".pyc")
_DYNLOAD_SKIP_PREFIXES = ("_tkinter", "_test", "_ctypes_test", "_xxtestfuzz", "nis", "xxlimited")

# glibc's own libraries: loaded before anything else, never given a RUNPATH.
_GLIBC_SONAMES = frozenset(
    {
        "libc.so.6",
        "libm.so.6",
        "libpthread.so.0",
        "libdl.so.2",
        "librt.so.1",
        "libutil.so.1",
        "libresolv.so.2",
    }
)
# Packages the stand-in offers for native code, each a copy of host libraries that
# ldd finds for the interpreter or patchelf (see docs/nixpkgs-contract.md).
_RUNTIME_PACKAGES = {
    "gcc-lib": ("libstdc++.so.6", "libgcc_s.so.1"),
    "zlib": ("libz.so.1",),
}
_LDD_LINE = re.compile(r"^\s*(\S+)\s+=>\s+(/\S+)\s+\(0x[0-9a-f]+\)\s*$")


class StandinError(RuntimeError):
    """The host lacks something the stand-in needs; the message says what to install."""


@dataclass(frozen=True)
class HostPython:
    """Where the host's base CPython keeps the files the stand-in copies."""

    version: tuple[int, int]
    full_version: str
    binary: Path
    stdlib: Path
    lib_dynload: Path

    @property
    def short(self) -> str:
        """``3.11``, as nixpkgs' ``pythonVersion``."""
        return f"{self.version[0]}.{self.version[1]}"

    @property
    def attr_name(self) -> str:
        """``python311``, the nixpkgs attribute name of this version."""
        return f"python{self.version[0]}{self.version[1]}"


def host_python() -> HostPython:
    """The base interpreter of the running Python (pyenv's, Debian's /usr/bin, ...).

    Found through ``sysconfig`` rather than fixed paths, because the layouts
    differ: pyenv has a shared libpython under its prefix, Debian links
    libpython statically and keeps lib-dynload in /usr/lib/python3.X.
    """
    short = f"{sys.version_info.major}.{sys.version_info.minor}"
    bindir = sysconfig.get_config_var("BINDIR") or os.path.join(sys.base_prefix, "bin")
    candidates = [Path(bindir) / f"python{short}", Path(sys.base_prefix) / "bin" / f"python{short}"]
    base_executable: str | None = getattr(sys, "_base_executable", None)
    if base_executable:
        candidates.append(Path(base_executable))
    binary = next((c.resolve() for c in candidates if c.exists() and _is_elf(c.resolve())), None)
    if binary is None:
        raise StandinError(f"no ELF python{short} found among {[str(c) for c in candidates]}")
    base_vars = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
    stdlib = Path(sysconfig.get_paths(vars=base_vars)["stdlib"])
    dynload_dirs = [sysconfig.get_config_var("DESTSHARED") or "", str(stdlib / "lib-dynload")]
    dynload_dirs += [p for p in sys.path if p.endswith("lib-dynload")]
    lib_dynload = next((Path(d) for d in dynload_dirs if d and Path(d).is_dir()), None)
    if not (stdlib / "os.py").is_file() or lib_dynload is None:
        raise StandinError(f"cannot find the stdlib/lib-dynload of {binary} (stdlib={stdlib})")
    return HostPython(
        version=(sys.version_info.major, sys.version_info.minor),
        full_version=platform.python_version(),
        binary=binary,
        stdlib=stdlib,
        lib_dynload=lib_dynload,
    )


def _is_elf(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(4) == b"\x7fELF"


def _tool(name: str, install_hint: str) -> Path:
    found = shutil.which(name) or (f"/bin/{name}" if os.path.exists(f"/bin/{name}") else None)
    if found is None:
        raise StandinError(f"{name} not found: {install_hint}")
    return Path(found).resolve()


def _shared_libraries(elf_files: list[Path]) -> dict[str, Path]:
    """Soname -> host file of every library ``ldd`` resolves for ``elf_files`` (transitively)."""
    proc = subprocess.run(
        ["ldd", *map(str, elf_files)], capture_output=True, text=True, check=False
    )
    libraries: dict[str, Path] = {}
    for line in proc.stdout.splitlines():
        match = _LDD_LINE.match(line)
        if match:
            libraries.setdefault(match.group(1), Path(match.group(2)))
    if not libraries:
        raise StandinError(f"ldd found no libraries for {elf_files[0]}: {proc.stderr.strip()}")
    return libraries


def _patchelf(patchelf: Path, *args: str | Path) -> None:
    subprocess.run([str(patchelf), *map(str, args)], check=True, capture_output=True)


def _copy_stdlib(source: Path, dest: Path) -> None:
    def ignore(directory: str, names: list[str]) -> set[str]:
        return {
            name
            for name in names
            if name in _STDLIB_SKIP_NAMES or name.endswith(_STDLIB_SKIP_SUFFIXES)
        }

    shutil.copytree(source, dest, ignore=ignore, ignore_dangling_symlinks=True)


def _compile_stdlib(stdlib: Path) -> None:
    """Byte-compile the copied stdlib as nixpkgs' python ships it (``__pycache__``, hash-based).

    ``unchecked-hash`` pycs stay valid although the store resets every mtime; without them
    every build that imports the stdlib would compile it from source (~0.2 s per builder).
    The running interpreter is the copied one's base, so the pycs carry its magic number.
    """
    subprocess.run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            str(stdlib),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def make_standin(dest: Path, *, bytecode: bool = True) -> Path:
    """Write the stand-in flake into ``dest`` (absent or empty) and return ``dest``.

    Layout: ``python/`` (binary, libpython if shared, stdlib with lib-dynload and,
    unless ``bytecode`` is false, its ``__pycache__``),
    ``libs/`` (every library they need plus the dynamic loader, each with
    RUNPATH ``$ORIGIN`` so their own dependencies resolve inside the sandbox),
    ``bin/bash`` (static), ``bin/patchelf``, ``build-python.py``, ``flake.nix``.
    Host RUNPATHs (e.g. /root/.pyenv/...) are removed: the derivation sets
    store paths instead.
    """
    if sys.platform != "linux" or platform.machine() != "x86_64":
        raise StandinError(f"the stand-in only serves {STANDIN_SYSTEM}, not {platform.machine()}")
    host = host_python()
    bash = _tool("bash-static", "apt-get install bash-static")
    patchelf = _tool("patchelf", "apt-get install patchelf")
    patch = _tool("patch", "apt-get install patch")
    dest = dest.absolute()
    if dest.exists() and any(dest.iterdir()):
        raise StandinError(f"{dest} is not empty; the stand-in needs a fresh directory")
    python_dir = dest / "python"
    libs_dir = dest / "libs"
    stdlib_dir = python_dir / "lib" / f"python{host.short}"
    dynload_dir = stdlib_dir / "lib-dynload"
    for directory in (python_dir / "bin", libs_dir, dest / "bin"):
        directory.mkdir(parents=True)

    binary = python_dir / "bin" / f"python{host.short}"
    shutil.copyfile(host.binary, binary)
    _copy_stdlib(host.stdlib, stdlib_dir)
    if bytecode:
        _compile_stdlib(stdlib_dir)
    dynload_dir.mkdir()
    for module in sorted(host.lib_dynload.iterdir()):
        if module.suffix == ".so" and not module.name.startswith(_DYNLOAD_SKIP_PREFIXES):
            shutil.copyfile(module, dynload_dir / module.name)
    shutil.copyfile(bash, dest / "bin" / "bash")
    shutil.copyfile(patchelf, dest / "bin" / "patchelf")
    shutil.copyfile(patch, dest / "bin" / "patch")

    python_elves = [binary, *sorted(dynload_dir.iterdir())]
    libraries = _shared_libraries([host.binary, patchelf, patch, *python_elves[1:]])
    for soname, path in list(libraries.items()):
        if soname.startswith("libpython"):
            # A shared libpython belongs to the python package, like nixpkgs' $out/lib;
            # ldd already listed its own dependencies (it reports them transitively).
            del libraries[soname]
            shutil.copyfile(path, python_dir / "lib" / soname)
            python_elves.append(python_dir / "lib" / soname)
    # nixpkgs' loader finds glibc's own libraries in its system search path (glibc's
    # lib/), so an extension linking libpthread.so.0 loads anywhere. The copied host
    # loader searches the host's /lib instead, absent in the sandbox: the binary links
    # glibc's remaining libraries itself, so they are loaded before any extension.
    glibc_dir = libraries["libc.so.6"].parent
    preloaded = sorted(
        soname
        for soname in _GLIBC_SONAMES
        if soname not in libraries and (glibc_dir / soname).is_file()
    )
    for soname in preloaded:
        libraries[soname] = glibc_dir / soname
    for soname, path in libraries.items():
        shutil.copyfile(path, libs_dir / soname)
    # glibc as nixpkgs packages it: the loader beside libc.so.6 and its companions in lib/,
    # so programs given this loader (stdenv.cc.bintools.dynamicLinker) can find glibc.
    glibc_package = dest / "pkgs" / "glibc" / "lib"
    glibc_package.mkdir(parents=True)
    for soname in sorted(_GLIBC_SONAMES):
        if soname in libraries:
            shutil.copyfile(libraries[soname], glibc_package / soname)
    # Runtime libraries for wheels' native code, as nixpkgs packages them.
    for package, sonames in _RUNTIME_PACKAGES.items():
        package_dir = dest / "pkgs" / package / "lib"
        package_dir.mkdir(parents=True)
        for soname in sonames:
            if soname not in libraries:
                raise StandinError(f"the host has no {soname} (for the stand-in's {package})")
            shutil.copyfile(libraries[soname], package_dir / soname)
    loader = Path(
        subprocess.run(
            [str(patchelf), "--print-interpreter", str(host.binary)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    shutil.copyfile(loader, libs_dir / loader.name)
    shutil.copyfile(loader, glibc_package / loader.name)

    for path in dest.rglob("*"):
        if path.is_file() and not path.is_symlink():
            executable = path.parent.name in ("bin", "libs", "lib-dynload") or ".so" in path.name
            path.chmod(0o755 if executable else 0o644)
    for path in python_dir.glob("lib/libpython*"):
        path.chmod(0o755)
    _patchelf(patchelf, "--remove-rpath", *python_elves)
    for soname in preloaded:
        _patchelf(patchelf, "--add-needed", soname, binary)
    _patchelf(
        patchelf,
        "--set-rpath",
        "$ORIGIN",
        *sorted(p for p in libs_dir.iterdir() if p.name not in _GLIBC_SONAMES | {loader.name}),
        *sorted(p for p in (dest / "pkgs").glob("*/lib/*") if p.parent != glibc_package),
    )
    (dest / "build-python.py").write_text(_BUILD_PYTHON)
    (dest / "flake.nix").write_text(
        _FLAKE_NIX.replace("@attr@", host.attr_name)
        .replace("@short@", host.short)
        .replace("@full@", host.full_version)
        .replace("@loader@", loader.name)
    )
    return dest


def override_args(standin: Path) -> list[str]:
    """``nix`` arguments that replace a flake's ``nixpkgs`` input by ``standin``."""
    return ["--override-input", "nixpkgs", f"path:{standin}"]


# Builder of python3XY, run by the copied dynamic loader before anything is
# patched (Nix starts a builder with a bare argv[0], PYTHONHOME points at the copy).
_BUILD_PYTHON = '''\
"""Turn the stand-in's copy of the host CPython into a nixpkgs-shaped package in $out.

bin/.pythonX.Y-wrapped: the ELF, loader and RUNPATH set to store paths (no forced
  RPATH: extension modules of wheels must bring their own RUNPATH, as with nixpkgs).
bin/pythonX.Y: a static-bash script exec'ing it with argv[0] = the invoking path,
  so CPython's getpath finds $out (lib/pythonX.Y/os.py) or a venv's pyvenv.cfg from it.
lib/libpython*.so*, lib/pythonX.Y/lib-dynload: copies with RUNPATH to the libraries.
lib/pythonX.Y/*: links to the stdlib in the stand-in's source.
"""

import os
import shutil
import subprocess

out = os.environ["out"]
src = os.environ["standin"]
version = os.environ["pythonVersion"]
loader = os.environ["loader"]
libs = f"{src}/libs"
executable = f"python{version}"


def patchelf(*args: str) -> None:
    patchelf_binary = f"{src}/bin/patchelf"
    subprocess.run([loader, "--library-path", libs, patchelf_binary, *args], check=True)


def copy(source: str, target: str) -> str:
    shutil.copyfile(source, target)
    os.chmod(target, 0o755)
    return target


os.makedirs(f"{out}/bin")
os.makedirs(f"{out}/lib/{executable}/lib-dynload")

rpath = libs
for name in sorted(os.listdir(f"{src}/python/lib")):
    if name.startswith("libpython"):
        patchelf("--set-rpath", libs, copy(f"{src}/python/lib/{name}", f"{out}/lib/{name}"))
        rpath = f"{out}/lib:{libs}"

wrapped = copy(f"{src}/python/bin/{executable}", f"{out}/bin/.{executable}-wrapped")
patchelf("--set-interpreter", loader, "--set-rpath", rpath, wrapped)

stdlib = f"{src}/python/lib/{executable}"
for name in sorted(os.listdir(stdlib)):
    if name != "lib-dynload":
        os.symlink(f"{stdlib}/{name}", f"{out}/lib/{executable}/{name}")
modules = [
    copy(f"{stdlib}/lib-dynload/{name}", f"{out}/lib/{executable}/lib-dynload/{name}")
    for name in sorted(os.listdir(f"{stdlib}/lib-dynload"))
]
patchelf("--set-rpath", libs, *modules)

with open(f"{out}/bin/{executable}", "w") as script:
    script.write(f"#!{src}/bin/bash\\nexec -a \\"$0\\" {wrapped} \\"$@\\"\\n")
os.chmod(f"{out}/bin/{executable}", 0o555)
os.symlink(executable, f"{out}/bin/python3")
os.symlink(executable, f"{out}/bin/python")
'''

_FLAKE_NIX = """\
# Generated by tests/support/standin.py: a stand-in for nixpkgs made from the
# host's CPython @full@. It honours docs/nixpkgs-contract.md and nothing more.
{
  description = "nixpkgs stand-in for pyproject2nix tests (CPython @full@, x86_64-linux)";

  outputs = { self }:
    let
      system = "x86_64-linux";
      # The source as its own store path: works for path:, tarball and ?dir= references.
      src = builtins.path { path = ./.; name = "nixpkgs-standin-source"; };
      loader = "${src}/libs/@loader@";

      # A derivation showing only what every derivation has plus `extra`, so that
      # nothing outside the contract (drvAttrs, builder, env) can be relied upon.
      expose = drv: extra:
        let
          shown = {
            inherit (drv) type name outPath drvPath outputName system;
            outputs = [ "out" ];
            out = shown;
            all = [ shown ];
          } // extra;
        in
        shown;

      pythonDrv = derivation {
        name = "python3-@full@";
        inherit system loader;
        builder = loader;
        args = [
          "--library-path" "${src}/libs:${src}/python/lib"
          "${src}/python/bin/python@short@" "-S" "-B" "${src}/build-python.py"
        ];
        PYTHONHOME = "${src}/python";
        standin = src;
        pythonVersion = "@short@";
      };

      python = expose pythonDrv {
        pythonVersion = "@short@";
        executable = "python@short@";
        sitePackages = "lib/python@short@/site-packages";
        interpreter = "${pythonDrv}/bin/python@short@";
      };

      # A package that is a copy of a directory of the stand-in's source (lib/...).
      copyOf = name: dir: expose (derivation {
        inherit name system;
        builder = python.interpreter;
        args = [ "-c" "import os, shutil; shutil.copytree(os.environ['tree'], os.environ['out'])" ];
        tree = "${src}/pkgs/${dir}";
      }) { };

      # nixpkgs' stdenv.cc.cc.lib: libstdc++ and libgcc_s of the compiler, in lib/.
      gccLib = copyOf "gcc-standin-lib" "gcc-lib";
      # Named to sort before every p2n derivation (python3.X-…): Nix starts runnable builds
      # in name order, while nixpkgs' zlib is substituted before any build starts. As
      # "zlib-…" it was built last and held back every wheel with native code.
      zlib = copyOf "libz-standin" "zlib";
      # glibc: the host's loader and libraries. Its loader searches the host's /lib, not
      # its own directory (nixpkgs' does): a program finds glibc only through a RUNPATH.
      glibc = copyOf "glibc-standin" "glibc";

      # A host tool as a package: bin/<tool>, the host's binary run by the copied loader.
      hostTool = tool: expose (derivation {
        name = "${tool}-standin";
        inherit system tool;
        builder = python.interpreter;
        args = [ "-c" ''
          import os
          os.makedirs(os.environ["out"] + "/bin")
          path = os.environ["out"] + "/bin/" + os.environ["tool"]
          with open(path, "w") as script:
              script.write(os.environ["script"])
          os.chmod(path, 0o555)
        '' ];
        script = ''
          #!${src}/bin/bash
          exec ${loader} --library-path ${src}/libs ${src}/bin/${tool} "$@"
        '';
      }) { };
      patchelf = hostTool "patchelf";
      patch = hostTool "patch";

      # stdenv.mkDerivation without a compiler or setup hooks: runs `buildPhase` with
      # bash, `nativeBuildInputs`/`buildInputs` on PATH; every other attribute becomes an
      # environment variable, as with nixpkgs. Enough to run p2n's builder as nixpkgs would.
      mkDerivation = { nativeBuildInputs ? [ ], buildInputs ? [ ], buildPhase ? "", ... }@attrs:
        let
          passed = builtins.removeAttrs attrs [ "nativeBuildInputs" "buildInputs" ];
        in
        expose (derivation (passed // {
          inherit system buildPhase;
          name = attrs.name or "${attrs.pname}-${attrs.version}";
          builder = "${src}/bin/bash";
          args = [ "-c" ''eval "$buildPhase"'' ];
          PATH = builtins.concatStringsSep ":"
            (map (p: "${p}/bin") (nativeBuildInputs ++ buildInputs));
          outputs = [ "out" ];
        })) { };

      # Attributes nixpkgs' mkShell/mkDerivation give a meaning the stand-in does not
      # have: refuse them instead of passing them on as plain environment variables.
      unsupported = [
        "inputsFrom" "buildInputs" "nativeBuildInputs" "propagatedBuildInputs"
        "propagatedNativeBuildInputs" "passthru" "meta" "env" "phases" "buildPhase"
        "builder" "args" "system" "outputs" "PATH" "__structuredAttrs"
      ];

      mkShell = { name ? "nix-shell", packages ? [ ], shellHook ? "", ... }@attrs:
        let
          bad = builtins.filter (a: builtins.hasAttr a attrs) unsupported;
          passed = builtins.removeAttrs attrs [ "name" "packages" "shellHook" ];
          drv = derivation (passed // {
            inherit name system shellHook;
            builder = "${src}/bin/bash";
            args = [ "-c" "echo 'stand-in mkShell: only for nix develop' > $out" ];
            outputs = [ "out" ];
            PATH = builtins.concatStringsSep ":" (map (p: "${p}/bin") packages);
          });
        in
        if bad != [ ] then
          throw "stand-in mkShell: ${toString bad}: not in docs/nixpkgs-contract.md"
        else
          expose drv { };
    in
    {
      legacyPackages.${system} = {
        @attr@ = python;
        inherit mkShell patchelf patch zlib;
        stdenv = {
          cc = {
            cc = { lib = gccLib; };
            # The path of the ELF interpreter of nixpkgs' programs (a string with context).
            bintools = { dynamicLinker = "${glibc}/lib/@loader@"; };
          };
          inherit mkDerivation;
        };
      };
    };
}
"""


def main(argv: list[str]) -> int:
    """``python -m tests.support.standin DEST``: make a stand-in by hand, print its path."""
    if len(argv) != 1:
        print("usage: python -m tests.support.standin DEST", file=sys.stderr)
        return 2
    try:
        print(make_standin(Path(argv[0])))
    except StandinError as exc:
        print(f"standin: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
