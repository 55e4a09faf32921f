"""The walking skeleton for real: generate the example, build it with real Nix.

Uses the nixpkgs stand-in (``--override-input nixpkgs path:…``); the flake
itself is exactly what a user gets, including its github: nixpkgs URL.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import EXAMPLE, copy_project, run_nix, run_p2n

pytestmark = pytest.mark.nix


@pytest.fixture(scope="module")
def example_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_project(EXAMPLE, tmp_path_factory.mktemp("example") / "hello")
    result = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert result.returncode == 0, result.stderr
    return project


@pytest.fixture(scope="module")
def built_env(example_project: Path, standin_override: list[str]) -> Path:
    result = run_nix(
        "build",
        f"path:{example_project}",
        *standin_override,
        "--json",
        "-o",
        str(example_project / "result"),
    )
    assert result.returncode == 0, result.stderr
    out = Path(json.loads(result.stdout)[0]["outputs"]["out"])
    assert (example_project / "result").resolve() == out
    return example_project / "result"


def test_environment_runs_the_console_script(built_env: Path) -> None:
    script = subprocess.run(
        [str(built_env / "bin" / "hello-p2n")], capture_output=True, text=True, check=True
    )
    assert "hello from a Nix-built" in script.stdout
    assert "rich" in script.stdout and "26.1.0" in script.stdout


def test_environment_python_is_a_venv_with_every_package(built_env: Path) -> None:
    probe = (
        "import sys, json, importlib.metadata as m; "
        "import rich, attrs, pygments, markdown_it, mdurl, iniconfig, hello_p2n; "
        "print(json.dumps([sys.prefix, sys.base_prefix, "
        "sorted(d.metadata['Name'].lower() for d in m.distributions())]))"
    )
    result = subprocess.run(
        [str(built_env / "bin" / "python"), "-c", probe],
        capture_output=True,
        text=True,
        check=True,
    )
    prefix, base_prefix, distributions = json.loads(result.stdout)
    assert Path(prefix).resolve() == built_env.resolve()
    assert prefix != base_prefix
    assert distributions == [
        "attrs",
        "hello-p2n",
        "iniconfig",
        "markdown-it-py",
        "mdurl",
        "pygments",
        "rich",
    ]


def test_installed_bytecode_is_hash_based(built_env: Path) -> None:
    site = next((built_env / "lib").glob("python3.*/site-packages"))
    pycs = list((site / "rich").resolve().glob("__pycache__/*.pyc"))
    assert pycs, "installer should byte-compile"
    for pyc in pycs[:20]:
        flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
        assert flags & 1, f"{pyc} is timestamp-based, not hash-based"


def test_bytecode_does_not_depend_on_the_number_of_cores(
    example_project: Path, standin_override: list[str], built_env: Path
) -> None:
    """pygments (~600 modules) is byte-compiled by forked workers, as many as ``cores``.

    Built with Nix's default ``cores`` (all of them) for ``built_env``, rebuilt here
    with one: ``--rebuild`` fails if a single byte differs.
    """
    result = run_nix(
        "build",
        f"path:{example_project}#legacyPackages.x86_64-linux.pygments",
        *standin_override,
        "--rebuild",
        "--no-link",
        "-L",
        "--option",
        "cores",
        "1",
    )
    assert result.returncode == 0, result.stderr
    assert "workers: 1" in result.stderr


def test_dev_shell_has_the_interpreter_and_packages(
    example_project: Path, standin_override: list[str], built_env: Path
) -> None:
    result = run_nix(
        "develop",
        f"path:{example_project}",
        *standin_override,
        "-c",
        "python",
        "-c",
        "import os, sys, rich, attrs, iniconfig; "
        "print(sys.prefix); print(os.environ['VIRTUAL_ENV'])",
    )
    assert result.returncode == 0, result.stderr
    prefix, virtual_env = result.stdout.split()
    # The shell's environment: the same wheels, the project itself editable.
    assert prefix == virtual_env
    assert prefix.startswith("/nix/store/") and prefix.endswith("-hello-p2n-dev-env")
    assert prefix != str(built_env.resolve())


def test_dev_shell_installs_the_project_editable(
    example_project: Path, standin_override: list[str], built_env: Path
) -> None:
    """An edit to the working tree shows in the shell at once, with no rebuild."""
    probe = (
        "import os, hello_p2n; print(os.environ['VIRTUAL_ENV']); print(hello_p2n.__file__); "
        "print(getattr(hello_p2n, 'EDITED', 'no'))"
    )
    module = example_project / "src" / "hello_p2n" / "__init__.py"

    def shell() -> list[str]:
        result = run_nix(
            "develop",
            f"path:{example_project}",
            *standin_override,
            "-c",
            "python",
            "-c",
            probe,
            cwd=example_project / "src",
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    env, where, edited = shell()
    assert where == str(module) and edited == "no"
    original = module.read_text()
    module.write_text(original + "\nEDITED = 'yes'\n")
    try:
        assert shell() == [env, str(module), "yes"]
    finally:
        module.write_text(original)
    # The built environment keeps its own copy, built by the project's backend.
    site = next((built_env / "lib").glob("python3.*/site-packages"))
    assert (site / "hello_p2n" / "__init__.py").is_file()


def test_nix_run_runs_the_project_script(
    example_project: Path, standin_override: list[str]
) -> None:
    result = run_nix("run", f"path:{example_project}", *standin_override)
    assert result.returncode == 0, result.stderr
    assert "hello from a Nix-built" in result.stdout


def test_apps_and_packages_are_exposed(example_project: Path, standin_override: list[str]) -> None:
    result = run_nix(
        "eval",
        "--json",
        f"path:{example_project}#apps.x86_64-linux",
        "--apply",
        "builtins.attrNames",
        *standin_override,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["default", "hello-p2n"]
