"""Real ``nix build``/``nix run`` of projects locked with pip-tools and with Pipenv.

The files' URLs come from PyPI's simple API (found by the hashes the locks
pin), the wheels are fetched by Nix in the sandbox, and the project's script
runs with pyyaml's C extension loaded.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, copy_project, run_nix, run_p2n

pytestmark = pytest.mark.nix

REQS = FIXTURES / "reqs"


@pytest.fixture
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _runs_tally(project: Path, standin_override: list[str]) -> None:
    run = run_nix("run", f"path:{project}", *standin_override)
    assert run.returncode == 0, run.stderr
    assert "tally" in run.stdout and "yaml_c: true" in run.stdout  # libyaml's extension loaded
    assert "- 11" in run.stdout  # CPython 3.11, the Python the lock was made for


@pytest.mark.usefixtures("_cache")
def test_pip_tools_project_builds_and_runs(tmp_path: Path, standin_override: list[str]) -> None:
    project = copy_project(REQS / "piptools", tmp_path / "tally")
    generated = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert generated.returncode == 0, generated.stderr
    _runs_tally(project, standin_override)


@pytest.mark.usefixtures("_cache")
def test_pipenv_project_builds_and_runs(tmp_path: Path, standin_override: list[str]) -> None:
    project = copy_project(REQS / "pipenv", tmp_path / "tally")
    generated = run_p2n("generate", "--project", str(project), "--group", "dev")
    assert generated.returncode == 0, generated.stderr
    _runs_tally(project, standin_override)
    built = run_nix(
        "build", f"path:{project}", *standin_override, "--json", "-o", str(project / "result")
    )
    assert built.returncode == 0, built.stderr
    env = Path(json.loads(built.stdout)[0]["outputs"]["out"])
    names = subprocess.run(
        [
            str(env / "bin" / "python"),
            "-c",
            "import importlib.metadata as m; print(sorted(d.metadata['Name'].lower() "
            "for d in m.distributions()))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "'iniconfig'" in names and "'pyyaml'" in names and "'tally'" in names
