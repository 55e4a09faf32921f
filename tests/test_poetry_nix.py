"""Real ``nix build`` of environments generated from poetry.lock and pylock.toml.

The poetry fixtures were locked against PyPI, so generating asks PyPI's simple
API for the file URLs (the same network the other Nix tests fetch wheels from);
the packages are then imported with the built environment's interpreter.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import POETRY_FIXTURES, PYLOCK_FIXTURES, copy_project, run_nix, run_p2n

pytestmark = pytest.mark.nix


def _build(project: Path, standin_override: list[str]) -> Path:
    result = run_nix(
        "build", f"path:{project}", *standin_override, "--json", "-o", str(project / "result")
    )
    assert result.returncode == 0, result.stderr
    return Path(json.loads(result.stdout)[0]["outputs"]["out"])


def _python(env: Path, code: str) -> str:
    result = subprocess.run(
        [str(env / "bin" / "python"), "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.mark.usefixtures("_cache")
def test_poetry_2_1_project_builds_imports_and_runs(
    tmp_path: Path, standin_override: list[str]
) -> None:
    project = copy_project(POETRY_FIXTURES / "lock-2.1-pep621", tmp_path / "demo")
    generated = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert generated.returncode == 0, generated.stderr
    assert "from package indexes" in generated.stdout
    env = _build(project, standin_override)
    out = _python(
        env,
        "import json, attrs, rich, six, typing_extensions, iniconfig, packaging, demo_poetry; "
        "import importlib.metadata as m; "
        "print(json.dumps(sorted(d.metadata['Name'].lower() for d in m.distributions())))",
    )
    names = set(json.loads(out))
    names = {n.replace("_", "-") for n in names}  # typing_extensions spells its Name so
    assert {"attrs", "rich", "six", "typing-extensions", "iniconfig", "demo-poetry"} <= names
    assert "pyyaml" not in names and "colorama" not in names  # extra; win32 only
    script = subprocess.run(
        [str(env / "bin" / "demo-poetry")], capture_output=True, text=True, check=False
    )
    assert script.returncode == 0, script.stderr
    assert "six 1.17.0" in script.stdout


@pytest.mark.usefixtures("_cache")
def test_classic_poetry_project_with_a_path_dependency(
    tmp_path: Path, standin_override: list[str]
) -> None:
    project = copy_project(POETRY_FIXTURES / "lock-2.0-classic", tmp_path / "classic")
    generated = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert generated.returncode == 0, generated.stderr
    lock_nix = (project / "p2n" / "lock.nix").read_text()
    assert 'path = "libs/helper";' in lock_nix
    run = run_nix("run", f"path:{project}", *standin_override)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("demo-classic: hello from helper idna 3.20")


def test_pylock_project_builds_and_imports(tmp_path: Path, standin_override: list[str]) -> None:
    project = tmp_path / "hello"
    shutil.copytree(PYLOCK_FIXTURES / "hello", project)
    generated = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert generated.returncode == 0, generated.stderr
    env = _build(project, standin_override)
    out = _python(
        env, "import rich, attrs, pygments, iniconfig, hello_p2n; print(attrs.__version__)"
    )
    assert out.strip() == "26.1.0"
    script = subprocess.run(
        [str(env / "bin" / "hello-p2n")], capture_output=True, text=True, check=False
    )
    assert script.returncode == 0 and "hello from a Nix-built" in script.stdout


@pytest.mark.usefixtures("_cache")
def test_poetry_1_1_lock_builds_and_imports(tmp_path: Path, standin_override: list[str]) -> None:
    project = copy_project(POETRY_FIXTURES / "lock-1.1", tmp_path / "old")
    generated = run_p2n(
        "generate", "--project", str(project), "--system", "x86_64-linux", "--extra", "yaml"
    )
    assert generated.returncode == 0, generated.stderr
    env = _build(project, standin_override)
    out = _python(
        env,
        "import attrs, six, rich, exceptiongroup, iniconfig, yaml, demo_old; "
        "print(yaml.__version__)",
    )
    assert out.split()[-1] == "6.0.4"  # a native wheel (manylinux) from [metadata.files]
