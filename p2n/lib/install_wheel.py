"""Builder of one wheel's derivation: install it with PyPA installer into $out.

Run by the target interpreter itself (no stdenv, no shell). Inputs come from
the derivation's environment: ``wheel`` (the fetched file), ``wheelName``
(its real file name: installer reads the distribution name from it), or
``buildWheelScript`` (build_wheel.py) and its inputs to build it from source,
``installer`` (installer unpacked and compiled, see installer.nix),
``bytecodeScript`` (bytecode.py), ``interpreter`` (for script shebangs),
``sitePackages``.
installer copies the files; bytecode.py then byte-compiles site-packages
with ``NIX_BUILD_CORES`` processes into hash-based pycs (``CHECKED_HASH``, as
installer's compileall wrote them with ``SOURCE_DATE_EPOCH``), the same bytes
for any number of processes and any build time.
``p2nPatches`` (space-separated files, from an overlay's ``patches``) are
applied with ``patchTool -p1`` in site-packages before byte-compiling.
Packages with native code also get ``patchElfScript`` (patch_elf.py) and its
inputs (see native.nix): their ELF files are given a RUNPATH after install.

Most of a small wheel's build is starting Python and importing installer
(~0.1 s of CPU, nearly all of it the standard library: email, zipfile,
dataclasses, ...). Two things make it cheaper without changing what is
installed: standard-library modules that installer's modules import but that
installing a wheel on POSIX never uses (``LAZY_MODULES``: socket, datetime,
inspect, ...) are imported lazily (``importlib.util.LazyLoader``: loaded on
first use, so nothing changes if one is used after all), and
``StoreDestination`` writes files with ``os`` calls instead of ``pathlib``
(installer's per-file cost in wheels of thousands of files).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

# Imported by installer's modules (or by the stdlib modules they import), never
# used while a wheel is installed on POSIX: the email parser's date, address
# and host-name helpers, its header and transfer encodings (installer parses the
# WHEEL file with the compat32 policy), dataclasses' signature helper and
# copy, urllib.parse's ipaddress, pathlib's fnmatch, the Windows launchers'
# resources, and patch_elf's subprocess when no RUNPATH changes. The last six
# of the list: 271 M -> 261 M instructions for a one-module wheel (six).
LAZY_MODULES = frozenset(
    {
        "bz2",
        "calendar",
        "datetime",
        "inspect",
        "lzma",
        "random",
        "shlex",
        "shutil",
        "socket",
        "subprocess",
        "tempfile",
        "copy",
        "email.base64mime",
        "email.header",
        "email.quoprimime",
        "fnmatch",
        "ipaddress",
    }
)


# Loaders of plain .py/.pyc modules, whose execution LazyLoader can defer.
PLAIN_LOADERS = (importlib.machinery.SourceFileLoader, importlib.machinery.SourcelessFileLoader)


class LazyStdlibFinder:
    """A meta path finder that gives ``LAZY_MODULES`` a lazy loader, and nothing else."""

    @classmethod
    def find_spec(
        cls, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name not in LAZY_MODULES:
            return None
        for finder in sys.meta_path:
            if finder is cls or not hasattr(finder, "find_spec"):
                continue
            spec: ModuleSpec | None = finder.find_spec(name, path, target)
            if spec is not None:
                if isinstance(spec.loader, PLAIN_LOADERS):
                    spec.loader = importlib.util.LazyLoader(spec.loader)
                return spec
        return None


if not os.environ.get("buildWheelScript"):
    # Not while a PEP 517 backend runs in this process (source builds).
    sys.meta_path.insert(0, LazyStdlibFinder)

sys.path.insert(0, os.environ["installer"])

from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

from installer import install  # noqa: E402
from installer.destinations import SchemeDictionaryDestination  # noqa: E402
from installer.records import Hash, RecordEntry  # noqa: E402
from installer.sources import WheelFile  # noqa: E402
from installer.utils import copyfileobj_with_hashing, make_file_executable  # noqa: E402

if TYPE_CHECKING:
    from installer.utils import Scheme


@dataclass
class StoreDestination(SchemeDictionaryDestination):
    """installer's destination, writing each file with ``os`` calls.

    ``write_to_fs`` does what installer's does (refuse paths outside the
    scheme's directory and existing files, create the parent directory, copy
    while hashing for RECORD, set the executable bit) without building
    ``pathlib`` objects, and creates each directory once.
    """

    made: set[str] = field(default_factory=set, repr=False)

    def write_to_fs(
        self, scheme: Scheme, path: str, stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        target_dir = os.path.abspath(self.scheme_dict[scheme])
        target = os.path.abspath(os.path.join(target_dir, path))
        if not target.startswith(target_dir + os.sep):
            raise ValueError(f"Attempting to write {path} outside of the target directory")
        if self.destdir is not None:
            return super().write_to_fs(scheme, path, stream, is_executable)
        if not self.overwrite_existing and os.path.exists(target):
            raise FileExistsError(f"File already exists: {target}")
        parent = os.path.dirname(target)
        if parent not in self.made:
            os.makedirs(parent, exist_ok=True)
            self.made.add(parent)
        with open(target, "wb") as handle:
            digest, size = copyfileobj_with_hashing(stream, handle, self.hash_algorithm)
        if is_executable:
            make_file_executable(Path(target))
        return RecordEntry(path, Hash(self.hash_algorithm, digest), size)


out = os.environ["out"]
site_packages = os.path.join(out, os.environ["sitePackages"])
version = "{}.{}".format(*sys.version_info[:2])
scheme = {
    "purelib": site_packages,
    "platlib": site_packages,
    "headers": os.path.join(out, "include", "python" + version, os.environ["pname"]),
    "scripts": os.path.join(out, "bin"),
    "data": out,
}


def load(name: str, path: str) -> ModuleType:
    """A helper script of the library as a module: compiled in installer's output, else by path."""
    compiled = os.path.join(os.environ["installer"], name + ".py")
    if os.path.exists(compiled):
        return importlib.import_module(name)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # found by name when pickled to a worker process
    spec.loader.exec_module(module)
    return module


scratch = os.environ.get("TMPDIR", "/tmp")
if os.environ.get("buildWheelScript"):
    # Built from source (sdist, git, local): build_wheel.py runs the PEP 517 backend.
    linked: str = load("build_wheel", os.environ["buildWheelScript"]).build(scratch)
    os.environ["wheelName"] = os.path.basename(linked)
else:
    # installer refuses a wheel whose file name does not match its .dist-info;
    # the store path starts with a hash, so link the file under its real name.
    linked = os.path.join(scratch, os.environ["wheelName"])
    os.symlink(os.environ["wheel"], linked)

destination = StoreDestination(
    scheme,
    interpreter=os.environ["interpreter"],
    script_kind="posix",
    bytecode_optimization_levels=(),
)
with WheelFile.open(Path(linked)) as source:
    install(source, destination, additional_metadata={"INSTALLER": b"p2n\n"})
print("installed", os.environ["wheelName"], "into", out, "with", version)

if os.environ.get("p2nPatches") and not os.environ.get("buildWheelScript"):
    # An overlay's patches of a wheel: -p1 against its installed files (site-packages),
    # before byte-compiling. A build from source applied them to the source already.
    import subprocess

    for patch in os.environ["p2nPatches"].split():
        print(f"p2n: applying {patch}")
        patching = [os.environ["patchTool"], "-p1", "-i", patch]
        if subprocess.run(patching, cwd=site_packages).returncode:
            sys.exit(f"p2n: {os.environ['pname']}: patch {patch} does not apply")

bytecode = load("p2n_bytecode", os.environ["bytecodeScript"])
bytecode.compile_tree(site_packages, bytecode.CHECKED_HASH, bytecode.build_cores())

if os.environ.get("patchElfScript"):
    load("p2n_patch_elf", os.environ["patchElfScript"]).patch_from_environment(out)
