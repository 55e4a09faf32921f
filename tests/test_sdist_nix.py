"""sdists built inside the sandbox with their own, pinned build backend.

Five small pure-Python sdists (setuptools with pyproject.toml, legacy
setup.py, hatchling, flit-core, poetry-core) are served from a loopback
index; a project depending on them is locked with uv, generated, and built
with real Nix. Their build requirements are resolved by uv at generate time
and recorded in p2n/build-systems.toml.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, run_nix, run_p2n
from tests.support.localindex import build_sdist, serve, uv, write_simple_index

pytestmark = pytest.mark.nix

BACKENDS = ("setuptools", "legacy", "hatchling", "flit", "poetry")


@pytest.fixture(scope="module")
def index_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    scratch = tmp_path_factory.mktemp("sdists")
    dist = scratch / "dist"
    files = [build_sdist(FIXTURES / "sdists" / name, dist, scratch) for name in BACKENDS]
    root = scratch / "index"
    write_simple_index(files, root)
    with serve(root) as url:
        yield url


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, index_url: str) -> Path:
    project = tmp_path_factory.mktemp("sdist-consumer")
    deps = ", ".join(f'"demo-{name}==1.0"' for name in BACKENDS)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "sdist-consumer"\nversion = "0.1.0"\n'
        f'requires-python = ">=3.11"\ndependencies = [{deps}]\n\n'
        f'[[tool.uv.index]]\nname = "local"\nurl = "{index_url}/simple/"\n'
    )
    subprocess.run([uv(), "lock", "--quiet"], cwd=project, check=True, capture_output=True)
    result = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert result.returncode == 0, result.stderr
    return project


def test_build_systems_are_pinned_and_recorded(project: Path) -> None:
    recorded = (project / "p2n" / "build-systems.toml").read_text()
    for requirement in ("setuptools>=61", "hatchling", "flit_core>=3.2,<4", "poetry-core>=2"):
        assert f'"{requirement}"' in recorded
    # The legacy sdist has no pyproject.toml: setuptools' legacy backend, with wheel.
    assert '"setuptools.build_meta:__legacy__"' in recorded
    assert '"setuptools>=40.8.0", "wheel"' in recorded
    lock_nix = (project / "p2n" / "lock.nix").read_text()
    assert lock_nix.count("      sdist = ") == len(BACKENDS)
    assert "buildSystems = {" in lock_nix


def test_regenerating_reuses_the_record_offline(project: Path) -> None:
    before = {p: p.read_bytes() for p in (project / "p2n").rglob("*") if p.is_file()}
    check = run_p2n("check", "--project", str(project))
    assert check.returncode == 0, check.stdout + check.stderr
    again = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert again.returncode == 0, again.stderr
    assert "up to date" in again.stdout
    assert {p: p.read_bytes() for p in (project / "p2n").rglob("*") if p.is_file()} == before


def test_every_backend_builds_in_the_sandbox(project: Path, standin_override: list[str]) -> None:
    result = run_nix("build", f"path:{project}", *standin_override, "-o", str(project / "result"))
    assert result.returncode == 0, result.stderr
    code = (
        "import json, importlib; print(json.dumps([importlib.import_module(m).VALUE for m in "
        f"{[f'demo_{n}' for n in BACKENDS]!r}]))"
    )
    ran = subprocess.run(
        [str(project / "result" / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(ran.stdout) == list(BACKENDS)
