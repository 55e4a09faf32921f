"""The nixpkgs stand-in honours docs/nixpkgs-contract.md, checked with real Nix builds.

A consumer flake shaped like a user's (``inputs.nixpkgs.url`` on GitHub,
overridden by the stand-in) uses the interpreter as a builder, makes a venv by
symlink, imports native stdlib modules inside the sandbox and opens a
``mkShell`` with ``nix develop``. Everything is asserted from what the builds
and the shell report, not from how the stand-in is made.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pyproject2nix.nixcli import NixResult, run_nix
from tests.support.nixenv import require_nix

pytestmark = pytest.mark.nix

SYSTEM = "x86_64-linux"
SHORT = f"{sys.version_info.major}.{sys.version_info.minor}"
PYTHON_ATTR = f"python{sys.version_info.major}{sys.version_info.minor}"
PYTHON_NAME = f"python3-{platform.python_version()}"  # nixpkgs' naming
NATIVE_MODULES = ("ssl", "ctypes", "sqlite3", "lzma", "zlib", "_decimal", "hashlib")

CONSUMER_FLAKE = """\
{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      system = "x86_64-linux";
      pkgs = nixpkgs.legacyPackages.${system};
      python = pkgs.@python@;
      probe = name: builder: extra: derivation ({
        inherit name system builder;
        args = [ ./probe.py ];
        interpreter = python.interpreter;
        pythonVersion = python.pythonVersion;
        sitePackages = python.sitePackages;
        executable = python.executable;
        python = "${python}";
      } // extra);
      env = derivation {
        name = "standin-venv";
        inherit system;
        builder = python.interpreter;
        args = [ ./make_venv.py ];
        python = "${python}";
        inherit (python) interpreter sitePackages;
      };
    in
    {
      packages.${system} = {
        inherit python env;
        builder-probe = probe "standin-builder-probe" python.interpreter { };
        venv-probe = probe "standin-venv-probe" "${env}/bin/python" { inherit env; };
        rpath-probe = probe "standin-rpath-probe" python.interpreter { noRunpath = ./no-runpath; };
      };
      devShells.${system}.default = pkgs.mkShell {
        packages = [ python ];
        shellHook = ''
          export STANDIN_HOOK=ran
        '';
        STANDIN_PASSED = "through";
      };
    };
}
"""

# Runs as a builder: reports what the interpreter sees, inside the sandbox.
PROBE_PY = """\
import json, os, subprocess, sys

report = {
    "env": {k: os.environ.get(k) for k in ("interpreter", "pythonVersion", "sitePackages",
                                           "executable", "python", "env")},
    "executable": sys.executable, "prefix": sys.prefix, "base_prefix": sys.base_prefix,
    "path": sys.path, "version": list(sys.version_info[:3]), "imports": {},
}
for name in @modules@:
    try:
        __import__(name)
        report["imports"][name] = "ok"
    except Exception as exc:
        report["imports"][name] = repr(exc)
try:
    import standin_probe_module
    report["site_module"] = standin_probe_module.WHERE
except ImportError as exc:
    report["site_module"] = repr(exc)
if os.environ.get("env"):
    script = os.environ["env"] + "/bin/standin-shebang"
    report["shebang"] = subprocess.run([script], capture_output=True, text=True).stdout
if os.environ.get("noRunpath"):
    # An extension module without RUNPATH, like a manylinux wheel's before patching,
    # imported first thing in a fresh interpreter (found through sys.executable).
    code = "import sys; sys.path.insert(0, sys.argv[1]); import _ssl; print(_ssl.__file__)"
    fresh = subprocess.run([sys.executable, "-c", code, os.environ["noRunpath"]],
                           capture_output=True, text=True)
    report["no_runpath"] = fresh.stdout + fresh.stderr
import email.message, importlib.util
# The stdlib's bytecode, as imported in the sandbox: flags 1 = hash-based, source unchecked.
cached = importlib.util.cache_from_source(email.message.__file__)
if os.path.exists(cached):
    with open(cached, "rb") as pyc:
        report["stdlib_pyc_flags"] = int.from_bytes(pyc.read(8)[4:8], "little")
with open(os.environ["out"], "w") as out:
    json.dump(report, out)
""".replace("@modules@", repr(NATIVE_MODULES))

# Runs as a builder: a venv made by symlink, the way generated environments are.
MAKE_VENV_PY = """\
import os

out, python = os.environ["out"], os.environ["python"]
site = os.path.join(out, os.environ["sitePackages"])
os.makedirs(os.path.join(out, "bin"))
os.makedirs(site)
with open(os.path.join(out, "pyvenv.cfg"), "w") as cfg:
    cfg.write(f"home = {python}/bin\\ninclude-system-site-packages = false\\n")
os.symlink(os.environ["interpreter"], os.path.join(out, "bin", "python"))
with open(os.path.join(site, "standin_probe_module.py"), "w") as module:
    module.write("WHERE = 'venv site-packages'\\n")
with open(os.path.join(out, "bin", "standin-shebang"), "w") as script:
    script.write(f"#!{out}/bin/python\\nimport sys, standin_probe_module\\n"
                 "print(sys.prefix, standin_probe_module.WHERE)\\n")
os.chmod(os.path.join(out, "bin", "standin-shebang"), 0o555)
"""


def nix(args: Sequence[str]) -> NixResult:
    """Run nix; fail the test with Nix's whole stderr, which a one-line error would hide."""
    require_nix()
    result = run_nix(list(args), check=False)
    assert result.returncode == 0, f"nix {' '.join(args)} failed:\n{result.stderr}"
    return result


def build(installables: Sequence[str], override: Sequence[str], *extra: str) -> dict[str, str]:
    """``nix build --json``: derivation name -> output path (Nix 2.8: no --print-out-paths)."""
    result = nix(["build", "--json", *installables, *override, *extra])
    return {
        entry["outputs"]["out"].split("-", 1)[1]: entry["outputs"]["out"]
        for entry in json.loads(result.stdout)
    }


@pytest.fixture(scope="module")
def consumer(tmp_path_factory: pytest.TempPathFactory, standin: Path) -> Path:
    """A user-shaped flake in a temp dir, with the probes it builds."""
    root = tmp_path_factory.mktemp("standin-consumer")
    (root / "flake.nix").write_text(CONSUMER_FLAKE.replace("@python@", PYTHON_ATTR))
    (root / "probe.py").write_text(PROBE_PY)
    (root / "make_venv.py").write_text(MAKE_VENV_PY)
    # The stand-in's source copies of lib-dynload carry no RUNPATH at all.
    dynload = standin / "python" / "lib" / f"python{SHORT}" / "lib-dynload"
    ssl_module = next(dynload.glob("_ssl.*.so"), None)
    assert ssl_module is not None, f"no _ssl extension module in {dynload}"
    (root / "no-runpath").mkdir()
    shutil.copyfile(ssl_module, root / "no-runpath" / ssl_module.name)
    return root


@pytest.fixture(scope="module")
def outputs(consumer: Path, standin_override: list[str]) -> dict[str, str]:
    """Every consumer package, built once: derivation name -> store path."""
    packages = ["python", "env", "builder-probe", "venv-probe", "rpath-probe"]
    installables = [f"path:{consumer}#packages.{SYSTEM}.{name}" for name in packages]
    return build(installables, standin_override, "--no-link")


def report(outputs: dict[str, str], name: str) -> dict[str, Any]:
    """The JSON a probe derivation wrote."""
    parsed: dict[str, Any] = json.loads(Path(outputs[name]).read_text())
    return parsed


def test_standin_offers_only_the_contract(standin: Path) -> None:
    """Nothing beyond the contract exists for generated code to lean on by accident."""
    names = nix(
        [
            "eval",
            "--json",
            f"path:{standin}#legacyPackages",
            "--apply",
            "builtins.mapAttrs (system: pkgs: builtins.attrNames pkgs)",
        ]
    )
    assert json.loads(names.stdout) == {
        SYSTEM: sorted(["mkShell", PYTHON_ATTR, "patch", "patchelf", "stdenv", "zlib"])
    }
    stdenv = nix(
        [
            "eval",
            "--json",
            f"path:{standin}#legacyPackages.{SYSTEM}.stdenv",
            "--apply",
            "s: [ (builtins.attrNames s) (builtins.attrNames s.cc) (builtins.attrNames s.cc.cc) ]",
        ]
    )
    assert json.loads(stdenv.stdout) == [["cc", "mkDerivation"], ["bintools", "cc"], ["lib"]]
    bintools = nix(
        [
            "eval",
            "--json",
            f"path:{standin}#legacyPackages.{SYSTEM}.stdenv.cc.bintools",
            "--apply",
            "b: [ (builtins.attrNames b) (builtins.baseNameOf b.dynamicLinker) ]",
        ]
    )
    assert json.loads(bintools.stdout) == [["dynamicLinker"], "ld-linux-x86-64.so.2"]
    python_names = nix(
        [
            "eval",
            "--json",
            f"path:{standin}#legacyPackages.{SYSTEM}.{PYTHON_ATTR}",
            "--apply",
            "builtins.attrNames",
        ]
    )
    derivation_basics = {"all", "drvPath", "name", "out", "outPath", "outputName", "outputs"}
    contract = {"interpreter", "pythonVersion", "sitePackages", "executable"}
    assert set(json.loads(python_names.stdout)) == derivation_basics | contract | {
        "system",
        "type",
    }


def test_mkshell_refuses_attributes_outside_the_contract(standin: Path) -> None:
    """``buildInputs`` means something to nixpkgs' mkShell; the stand-in says no, loudly."""
    require_nix()
    result = run_nix(
        [
            "eval",
            f"path:{standin}#legacyPackages.{SYSTEM}.mkShell",
            "--apply",
            "mkShell: (mkShell { buildInputs = [ ]; }).drvPath",
        ],
        check=False,
    )
    assert result.returncode != 0
    assert "stand-in mkShell: buildInputs: not in docs/nixpkgs-contract.md" in result.stderr


def test_interpreter_works_as_a_builder(outputs: dict[str, str]) -> None:
    """``builder = python.interpreter`` runs with argv[0] = basename and finds its stdlib."""
    python = outputs[PYTHON_NAME]
    probe = report(outputs, "standin-builder-probe")
    assert probe["env"]["interpreter"] == f"{python}/bin/python{SHORT}"
    assert probe["env"]["pythonVersion"] == SHORT
    assert probe["env"]["sitePackages"] == f"lib/python{SHORT}/site-packages"
    assert probe["env"]["executable"] == f"python{SHORT}"
    assert probe["env"]["python"] == python
    assert probe["version"] == list(sys.version_info[:3])
    assert probe["executable"] == f"{python}/bin/python{SHORT}"
    assert probe["prefix"] == probe["base_prefix"] == python
    assert f"{python}/lib/python{SHORT}" in probe["path"]
    assert f"{python}/lib/python{SHORT}/lib-dynload" in probe["path"]
    for name in (f"python{SHORT}", "python3", "python"):
        assert os.access(f"{python}/bin/{name}", os.X_OK), name


def test_stdlib_ships_hash_based_bytecode(outputs: dict[str, str]) -> None:
    """Like nixpkgs' python: builders load the stdlib's pycs instead of compiling it each time.

    Timestamp pycs would be stale in the store (every mtime is 1); unchecked-hash ones are not.
    """
    assert report(outputs, "standin-builder-probe").get("stdlib_pyc_flags") == 1


def test_native_stdlib_modules_import_in_the_sandbox(outputs: dict[str, str]) -> None:
    """ssl, ctypes, sqlite3, ... find their libraries with no host /lib in sight."""
    for name in ("standin-builder-probe", "standin-venv-probe"):
        imports = report(outputs, name)["imports"]
        assert imports == dict.fromkeys(NATIVE_MODULES, "ok"), name


def test_extension_modules_get_no_runpath_from_the_interpreter(outputs: dict[str, str]) -> None:
    """Like nixpkgs: an extension without RUNPATH (a wheel's) cannot borrow the interpreter's.

    A forced RPATH on the interpreter would hide missing RUNPATHs in wheels
    that real users' builds then trip over.
    """
    message = report(outputs, "standin-rpath-probe")["no_runpath"]
    assert "libssl.so.3: cannot open shared object file" in message


def test_venv_by_symlink_inside_the_sandbox(outputs: dict[str, str]) -> None:
    """``$env/bin/python`` -> the interpreter + pyvenv.cfg: sys.prefix is $env, as with nixpkgs."""
    python = outputs[PYTHON_NAME]
    env = outputs["standin-venv"]
    probe = report(outputs, "standin-venv-probe")
    assert probe["executable"] == f"{env}/bin/python"
    assert probe["prefix"] == env
    assert probe["base_prefix"] == python
    assert f"{env}/lib/python{SHORT}/site-packages" in probe["path"]
    assert probe["site_module"] == "venv site-packages"
    # A script whose shebang is the venv's python (nested interpreters).
    assert probe["shebang"] == f"{env} venv site-packages\n"


def test_venv_from_a_result_symlink(
    consumer: Path, outputs: dict[str, str], standin_override: list[str], tmp_path: Path
) -> None:
    """Outside Nix, through ``result``: getpath finds pyvenv.cfg from the invoking path."""
    python = outputs[PYTHON_NAME]
    env = outputs["standin-venv"]
    result = tmp_path / "result"
    build([f"path:{consumer}#packages.{SYSTEM}.env"], standin_override, "--out-link", str(result))
    assert os.readlink(result) == env
    code = (
        "import json, sys, standin_probe_module as m;"
        "print(json.dumps([sys.prefix, sys.base_prefix, sys.executable, m.WHERE]))"
    )
    for invoked, prefix in ((result, str(result)), (Path(env), env)):
        ran = subprocess.run(
            [str(invoked / "bin" / "python"), "-c", code],
            capture_output=True,
            text=True,
            check=True,
        )
        # CPython keeps the path it was invoked by (nixpkgs' python does the same).
        assert json.loads(ran.stdout) == [
            prefix,
            python,
            f"{prefix}/bin/python",
            "venv site-packages",
        ]
    shebang = subprocess.run(
        [str(result / "bin" / "standin-shebang")], capture_output=True, text=True, check=True
    )
    assert shebang.stdout == f"{env} venv site-packages\n"


def test_mkshell_with_nix_develop(
    consumer: Path, outputs: dict[str, str], standin_override: list[str]
) -> None:
    """``nix develop -c python3``: packages on PATH, shellHook ran, extra attrs in the env."""
    python = outputs[PYTHON_NAME]
    code = (
        "import json, os, sys;"
        "print(json.dumps([sys.executable, sys.prefix, os.environ.get('STANDIN_HOOK'),"
        " os.environ.get('STANDIN_PASSED'), os.environ['PATH'].split(':')[0]]))"
    )
    shell = nix(["develop", f"path:{consumer}", *standin_override, "-c", "python3", "-c", code])
    assert json.loads(shell.stdout.strip().splitlines()[-1]) == [
        f"{python}/bin/python3",
        python,
        "ran",
        "through",
        f"{python}/bin",
    ]
    # The shell derivation builds too, as nixpkgs' does.
    built = build([f"path:{consumer}#devShells.{SYSTEM}.default"], standin_override, "--no-link")
    assert list(built) == ["nix-shell"]


def test_native_runtime_packages(standin: Path) -> None:
    """``patchelf``, ``zlib`` and ``stdenv.cc.cc.lib`` build and hold what nixpkgs' do."""
    attrs = ["patchelf", "zlib", "stdenv.cc.cc.lib"]
    installables = [f"path:{standin}#legacyPackages.{SYSTEM}.{a}" for a in attrs]
    result = nix(["build", "--json", "--no-link", *installables])
    built = {
        Path(e["outputs"]["out"]).name.split("-", 1)[1]: Path(e["outputs"]["out"])
        for e in json.loads(result.stdout)
    }
    patchelf, zlib = built["patchelf-standin"], built["libz-standin"]
    gcc_lib = built["gcc-standin-lib"]
    version = subprocess.run(
        [str(patchelf / "bin" / "patchelf"), "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.startswith("patchelf"), version.stderr
    assert (zlib / "lib" / "libz.so.1").is_file()
    assert {p.name for p in (gcc_lib / "lib").iterdir()} == {"libstdc++.so.6", "libgcc_s.so.1"}


# Runs as a builder: a program named with the host's loader, then with nixpkgs'.
LOADER_PROBE_PY = """\
import json, os, shutil, subprocess
report = {}
program = os.path.join(os.environ["TMPDIR"], "program")
shutil.copyfile(os.environ["program"], program)
os.chmod(program, 0o755)
try:
    report["host_loader"] = subprocess.run([program]).returncode
except OSError as exc:
    report["host_loader"] = type(exc).__name__
subprocess.run([os.environ["patchelf"], "--set-interpreter", os.environ["dynamicLinker"],
                program], check=True)
started = subprocess.run([program], capture_output=True, text=True)
report["without_runpath"] = started.returncode
report["without_runpath_error"] = started.stderr
glibc = os.path.dirname(os.environ["dynamicLinker"])
subprocess.run([os.environ["patchelf"], "--set-rpath", glibc, program], check=True)
report["with_runpath"] = subprocess.run([program]).returncode
with open(os.environ["out"], "w") as out:
    json.dump(report, out)
"""

LOADER_FLAKE = """\
{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
  outputs = { self, nixpkgs }:
    let
      system = "x86_64-linux";
      pkgs = nixpkgs.legacyPackages.${system};
    in
    {
      packages.${system}.default = derivation {
        name = "standin-loader-probe";
        inherit system;
        builder = pkgs.@python@.interpreter;
        args = [ ./probe.py ];
        program = ./program;
        patchelf = "${pkgs.patchelf}/bin/patchelf";
        dynamicLinker = pkgs.stdenv.cc.bintools.dynamicLinker;
      };
    };
}
"""


def test_programs_need_the_contracts_loader_in_the_sandbox(
    tmp_path: Path, standin_override: list[str]
) -> None:
    """A host program (interpreter /lib64/ld-linux-x86-64.so.2, as wheels' programs) does not
    start in the sandbox; with ``stdenv.cc.bintools.dynamicLinker`` and glibc's ``lib/`` on its
    RUNPATH it does. The stand-in's loader does not search its own directory (nixpkgs' does):
    stricter, so code passing here also passes with nixpkgs."""
    (tmp_path / "flake.nix").write_text(LOADER_FLAKE.replace("@python@", PYTHON_ATTR))
    (tmp_path / "probe.py").write_text(LOADER_PROBE_PY)
    shutil.copyfile(shutil.which("true") or "/bin/true", tmp_path / "program")
    built = build([f"path:{tmp_path}"], standin_override, "--no-link")
    probe = json.loads(Path(built["standin-loader-probe"]).read_text())
    assert probe["host_loader"] == "FileNotFoundError"
    assert probe["with_runpath"] == 0
