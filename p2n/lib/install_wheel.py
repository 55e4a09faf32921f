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
"""

import importlib.util
import os
import sys
import sysconfig
from pathlib import Path
from types import ModuleType

sys.path.insert(0, os.environ["installer"])

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile

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
    """A helper script of the library (passed as a store path) as a module."""
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

destination = SchemeDictionaryDestination(
    scheme,
    interpreter=os.environ["interpreter"],
    script_kind="posix",
    bytecode_optimization_levels=(),
)
with WheelFile.open(Path(linked)) as source:
    install(source, destination, additional_metadata={"INSTALLER": b"p2n\n"})
print("installed", os.environ["wheelName"], "into", out, "with", sysconfig.get_python_version())

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
    load("patch_elf", os.environ["patchElfScript"]).patch_from_environment(out)
