"""Shapes that need a real build to be believable: a direct-URL sdist built from a
subdirectory of the archive, and a path dependency that has only setup.py.

The lock is written by the real uv at test time (``--exclude-newer`` keeps it stable);
the sdist is poetry-core 2.5.0's from PyPI, whose ``tests/fixtures/project_minimal``
is a project of its own ([project] without [build-system]: setuptools' legacy backend).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, run_nix, run_p2n
from tests.support.localindex import uv

pytestmark = pytest.mark.nix

POETRY_CORE_SDIST = (
    "https://files.pythonhosted.org/packages/42/b5/50f1fda26c4fe5b1d6ce5cdf0391bdfa1ca12fdcb8ad68"
    "344d5cf678fc90/poetry_core-2.5.0.tar.gz"
)


def test_url_sdist_subdirectory_and_setup_py_only_path_dependency(
    tmp_path: Path, standin_override: list[str]
) -> None:
    project = tmp_path / "shapes"
    legacy = FIXTURES / "uv" / "setup-py-paths" / "libs" / "legacy"
    (project / "libs").mkdir(parents=True)
    subprocess.run(["cp", "-r", str(legacy), str(project / "libs" / "legacy")], check=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "shapes"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        "dependencies = [\n"
        f'  "minimal @ {POETRY_CORE_SDIST}#subdirectory=tests/fixtures/project_minimal",\n'
        '  "legacy-helper",\n]\n\n'
        '[tool.uv.sources]\nlegacy-helper = { path = "libs/legacy" }\n'
    )
    subprocess.run(
        [uv(), "lock", "--quiet", "--exclude-newer", "2025-06-01"],
        cwd=project,
        check=True,
        capture_output=True,
    )
    lock = (project / "uv.lock").read_text()
    assert 'subdirectory = "tests/fixtures/project_minimal" }' in lock
    assert "sdist = { hash = " in lock
    generated = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert generated.returncode == 0, generated.stderr
    lock_nix = (project / "p2n" / "lock.nix").read_text()
    assert 'subdirectory = "tests/fixtures/project_minimal";' in lock_nix
    result = run_nix("build", f"path:{project}", *standin_override, "-o", str(project / "result"))
    assert result.returncode == 0, result.stderr
    code = (
        "import importlib.metadata as m, legacy, six; "
        "print(m.version('minimal'), m.version('legacy-helper'), six.__version__)"
    )
    ran = subprocess.run(
        [str(project / "result" / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    assert ran.stdout.split() == ["1", "0.3.0", "1.17.0"]
    script = subprocess.run(
        [str(project / "result" / "bin" / "legacy-hello")], capture_output=True, text=True
    )
    assert script.stdout.strip() == "hello from a setup.py-only path dependency", script.stderr


def test_poetry_project_with_urls_only_project_table_and_setup_py_path_dependency(
    tmp_path: Path, standin_override: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Poetry 1.8.5's lock of tests/fixtures/poetry/shapes-2.0, built by poetry-core 1.x."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project = tmp_path / "shapes"
    subprocess.run(["cp", "-r", str(FIXTURES / "poetry" / "shapes-2.0"), str(project)], check=True)
    generated = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert generated.returncode == 0, generated.stderr
    result = run_nix("build", f"path:{project}", *standin_override, "-o", str(project / "result"))
    assert result.returncode == 0, result.stderr
    code = (
        "import importlib.metadata as m, shapes, legacy, attrs; "
        "print(m.version('shapes'), m.version('legacy-helper'))"
    )
    ran = subprocess.run(
        [str(project / "result" / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    assert ran.stdout.split() == ["0.1.0", "0.3.0"]
    script = subprocess.run(
        [str(project / "result" / "bin" / "legacy-hello")], capture_output=True, text=True
    )
    assert script.stdout.strip() == "hello from a setup.py-only path dependency", script.stderr
