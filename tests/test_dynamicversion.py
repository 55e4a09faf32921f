"""Versions from git: which projects need their backend asked, and when ``p2n check`` is stale.

Offline: the version and the build environment are recorded in
``p2n/build-systems.toml`` (as ``p2n generate`` writes them after asking the
backend; the real backends run in tests/test_matrix_nix.py). A new commit or
tag changes what ``git describe`` says, so the recorded version may be wrong:
``p2n check`` must say stale, and regenerating offline must refuse.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pyproject2nix.dynamicversion import git_state, needs_backend_version
from tests.helpers import run_p2n


@pytest.mark.parametrize(
    ("pyproject", "needed"),
    [
        (None, True),  # setup.py only
        ('[project]\nname = "a"\nversion = "1.0"\n', False),
        ('[project]\nname = "a"\ndynamic = ["version"]\n', True),
        ('[project]\nname = "a"\n', True),
        ('[tool.poetry]\nname = "a"\nversion = "1.0"\n', False),
        (
            '[tool.poetry]\nname = "a"\nversion = "0.0.0"\n\n'
            "[tool.poetry-dynamic-versioning]\nenable = true\n",
            True,
        ),
        ('[build-system]\nrequires = ["setuptools"]\n', True),  # version in setup.cfg/setup.py
    ],
)
def test_which_projects_need_their_backend(
    tmp_path: Path, pyproject: str | None, needed: bool
) -> None:
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject)
    assert needs_backend_version(tmp_path) is needed


def _git(directory: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=directory,
        check=True,
        capture_output=True,
    )


PYPROJECT = """\
[project]
name = "vcsdemo"
dynamic = ["version"]
requires-python = ">=3.11"
dependencies = []

[build-system]
requires = ["hatchling", "hatch-vcs"]
build-backend = "hatchling.build"

[tool.hatch.version]
source = "vcs"
"""

UV_LOCK = """\
version = 1
revision = 3
requires-python = ">=3.11"

[[package]]
name = "vcsdemo"
source = { editable = "." }
"""

BUILD_LOCK = """\
[[resolution]]
requires = ["hatchling", "hatch-vcs"]
python = "3.11"
system = "x86_64-linux"
wheels = [
  {{ name = "hatchling", version = "1.0", filename = "hatchling-1.0-py3-none-any.whl", \
url = "https://files.pythonhosted.org/packages/aa/hatchling-1.0-py3-none-any.whl", \
sha256 = "{sha}" }},
]

[[version]]
path = "."
version = "1.2.3"
git = "{git}"
"""


def test_a_new_commit_makes_the_recorded_version_stale(tmp_path: Path) -> None:
    project = tmp_path / "vcsdemo"
    (project / "src" / "vcsdemo").mkdir(parents=True)
    (project / "src" / "vcsdemo" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "uv.lock").write_text(UV_LOCK)
    (project / ".python-version").write_text("3.11\n")
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "first")
    _git(project, "tag", "v1.2.3")
    state = git_state(project)
    assert state is not None and state.startswith("v1.2.3-0-g")
    (project / "p2n").mkdir()
    (project / "p2n" / "build-systems.toml").write_text(
        BUILD_LOCK.format(sha="0" * 64, git=state)
    )

    generated = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert generated.returncode == 0, generated.stderr
    lock_nix = (project / "p2n" / "lock.nix").read_text()
    assert 'version = "1.2.3";' in lock_nix
    assert 'pretendVersion = "1.2.3";' in lock_nix
    assert run_p2n("check", "--project", str(project)).returncode == 0

    (project / "README.md").write_text("more\n")
    _git(project, "add", "README.md")
    _git(project, "commit", "-qm", "second")
    check = run_p2n("check", "--project", str(project))
    assert check.returncode == 1
    assert "the version of vcsdemo comes from its build backend and git HEAD moved" in check.stderr
    assert f"({state} -> v1.2.3-1-g" in check.stderr
    offline = run_p2n(
        "generate", "--project", str(project), "--system", "x86_64-linux", "--offline"
    )
    assert offline.returncode == 2
    assert "run p2n generate (without --offline)" in offline.stderr
