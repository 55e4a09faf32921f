"""Drift: a lock that no longer matches pyproject.toml is refused (uv sync --locked).

Every lock here was written by the real tool (uv 0.13.9, Poetry 2.5.1 / 1.8.5 /
1.1.15); the tests edit pyproject.toml afterwards, as a user adding a
dependency without re-locking does.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from pyproject2nix.poetrylock import _writer, content_hashes, read_poetry_lock
from pyproject2nix.uvlock import read_uv_lock
from tests.helpers import EXAMPLE, POETRY_FIXTURES, REPO, UV_FIXTURES, copy_project, run_p2n

DRIFT = UV_FIXTURES / "drift"


def _uv_drift(project: Path) -> tuple[str, ...]:
    return read_uv_lock(project / "uv.lock", drift=True).drift


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    "project",
    [
        EXAMPLE,
        REPO,
        DRIFT,
        *(p for p in sorted(UV_FIXTURES.iterdir()) if (p / "uv.lock").is_file()),
    ],
    ids=lambda p: p.name,
)
def test_locks_uv_wrote_match_their_pyproject(project: Path) -> None:
    assert _uv_drift(project) == ()


def test_uv_rewrites_are_not_drift() -> None:
    """uv records markers, specifiers and names differently from pyproject.toml."""
    lock = (DRIFT / "uv.lock").read_text()
    pyproject = (DRIFT / "pyproject.toml").read_text()
    assert "python_version >= '3.8'" in pyproject
    assert "python_full_version >= '3.8'" in lock
    assert ">=23,!=23.1.0" in lock and "attrs[tests] >= 23 , != 23.1.0" in pyproject
    assert _uv_drift(DRIFT) == ()


UV_EDITS: list[tuple[str, str, str, str]] = [
    ('"loc",', '"loc", "httpx>=0.27",', "demo-proj: httpx>=0.27 is not in the lock", "added"),
    (
        "attrs[tests] >= 23",
        "attrs[tests] >= 24",
        "attrs[tests] >= 24 , != 23.1.0 is attrs[tests]>=23,!=23.1.0 in the lock",
        "specifier",
    ),
    (
        "python_version<'3.20'",
        "python_version<'3.12'",
        "colorama; sys_platform == 'win32' and python_version<'3.12' is colorama; "
        "python_full_version < '3.20'",
        "marker",
    ),
    (
        "  \"six>=1.16,<2 ; python_version >= '3.8'\",\n",
        "",
        "the lock has six>=1.16,<2; python_full_version >= '3.8', which pyproject.toml",
        "removed",
    ),
    (
        'other = ["packaging"]',
        'other = ["packaging"]\nnew = ["six"]',
        "extras are [fancy, new, other] in pyproject.toml, [fancy, other] in the lock",
        "extra",
    ),
    (
        'other = ["packaging"]',
        "other = [\"packaging; python_version < '3.12'\"]",
        "packaging; python_version < '3.12' (extra other) is packaging; extra == 'other'",
        "marker in an extra",
    ),
    (
        'other = ["packaging"]',
        'other = []\nfancy = ["packaging"]',
        "packaging (extra fancy) is packaging; extra == 'other' in the lock",
        "moved to another extra",
    ),
    (
        'lint = ["ruff==0.6.0"]',
        'lint = ["ruff==0.6.0", "mypy"]',
        "group 'lint': mypy is not in the lock",
        "group",
    ),
    (
        'dev-dependencies = ["tomli"]',
        'dev-dependencies = ["tomli", "coverage"]',
        "group 'dev': coverage is not in the lock",
        "legacy dev-dependencies",
    ),
    (
        'loc = { path = "libs/loc", editable = true }',
        'loc = { git = "https://example.invalid/loc.git" }',
        "loc (git source) is loc (local source) in the lock",
        "source",
    ),
    (
        'requires-python = ">=3.11"',
        'requires-python = ">=3.12"',
        "requires-python is >=3.12 in pyproject.toml, >=3.11 in the lock",
        "requires-python",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected", "what"), UV_EDITS, ids=[e[3] for e in UV_EDITS])
def test_uv_edit_without_relock_is_drift(
    tmp_path: Path, old: str, new: str, expected: str, what: str
) -> None:
    project = copy_project(DRIFT, tmp_path / "drift")
    _edit(project / "pyproject.toml", old, new)
    found = _uv_drift(project)
    assert any(expected in line for line in found), found


def test_uv_edits_that_change_nothing_are_not_drift(tmp_path: Path) -> None:
    project = copy_project(DRIFT, tmp_path / "drift")
    pyproject = project / "pyproject.toml"
    _edit(pyproject, 'version = "0.1.0"', 'version = "0.2.0"\ndescription = "new words"')
    _edit(pyproject, '"pyyaml>=6"', '"PyYAML >= 6.0"')  # the same requirement, spelt otherwise
    # uv records a group as a set: an include-group repeating a requirement adds nothing
    # (attrs 26.1.0's `benchmark` group does this, and its committed uv.lock is fresh).
    _edit(pyproject, '{include-group = "lint"}]', '{include-group = "lint"}, "ruff==0.6.0"]')
    # Always true inside requires-python (>=3.11): the same as uv's `extra == 'other'`,
    # found by evaluating both with the extra active, not by reading marker text.
    _edit(pyproject, 'other = ["packaging"]', "other = [\"packaging; python_version >= '3.8'\"]")
    assert _uv_drift(project) == ()


def test_uv_workspace_member_and_new_member(tmp_path: Path) -> None:
    project = copy_project(UV_FIXTURES / "workspace", tmp_path / "ws")
    _edit(project / "packages" / "liba" / "pyproject.toml", '"six"', '"six", "attrs"')
    new = project / "packages" / "libc"
    new.mkdir()
    (new / "pyproject.toml").write_text('[project]\nname = "libc"\nversion = "1"\n')
    found = _uv_drift(project)
    assert "liba: attrs is not in the lock" in found
    assert "workspace members libc are not in the lock" in found


def test_generate_refuses_drift_and_frozen_takes_the_lock(tmp_path: Path) -> None:
    project = copy_project(EXAMPLE, tmp_path / "hello")
    _edit(project / "pyproject.toml", '"attrs>=23",', '"attrs>=23",\n  "httpx>=0.27",')
    refused = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert refused.returncode == 2
    (line,) = refused.stderr.strip().splitlines()
    assert "uv.lock: the lock does not match pyproject.toml" in line
    assert "hello-p2n: httpx>=0.27 is not in the lock" in line
    assert "run `uv lock`" in line and "--frozen" in line
    assert not (project / "flake.nix").exists() and not (project / "p2n" / "lock.nix").exists()

    frozen = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux", "--frozen")
    assert frozen.returncode == 0, frozen.stderr
    assert "does not match pyproject.toml (hello-p2n: httpx>=0.27" in frozen.stderr
    assert "--frozen" in frozen.stderr

    stale = run_p2n("check", "--project", str(project))
    assert stale.returncode == 1
    assert "stale: uv.lock" in stale.stderr
    assert "httpx>=0.27 is not in the lock" in stale.stderr and "`uv lock`" in stale.stderr


def test_check_reports_a_dependency_added_after_generate(tmp_path: Path) -> None:
    project = copy_project(EXAMPLE, tmp_path / "hello")
    assert run_p2n("generate", "--project", str(project)).returncode == 0
    assert run_p2n("check", "--project", str(project)).returncode == 0
    _edit(project / "pyproject.toml", 'dev = ["iniconfig>=2"]', 'dev = ["iniconfig>=2", "pytest"]')
    result = run_p2n("check", "--project", str(project))
    assert result.returncode == 1
    assert "uv.lock does not match pyproject.toml" in result.stderr
    assert "group 'dev': pytest is not in the lock" in result.stderr


# -- poetry.lock: content-hash --------------------------------------------------------

POETRY_LOCKS = sorted(p.name for p in POETRY_FIXTURES.iterdir() if (p / "poetry.lock").is_file())


@pytest.mark.parametrize("fixture", POETRY_LOCKS)
def test_content_hash_is_computed_as_the_writing_poetry_does(fixture: str) -> None:
    directory = POETRY_FIXTURES / fixture
    pyproject = tomllib.loads((directory / "pyproject.toml").read_text())
    recorded = tomllib.loads((directory / "poetry.lock").read_text())["metadata"]["content-hash"]
    assert recorded in content_hashes(pyproject, _writer(directory / "poetry.lock"))
    lock = read_poetry_lock(directory / "poetry.lock", directory / "pyproject.toml")
    assert lock.drift == ()


def _poetry_copy(tmp_path: Path, fixture: str) -> Path:
    target = tmp_path / fixture
    shutil.copytree(POETRY_FIXTURES / fixture, target)
    return target


def _poetry_drift(project: Path) -> tuple[str, ...]:
    return read_poetry_lock(project / "poetry.lock", project / "pyproject.toml").drift


# (fixture, edit) pairs checked against the real Poetry that wrote each lock: its
# Locker.is_fresh() said stale for each of these and fresh for the description edits.
POETRY_EDITS: list[tuple[str, str, str, str]] = [
    ("lock-2.1-pep621", '  "six>=1.16",', '  "six>=1.16",\n  "httpx",', "httpx is not in the lock"),
    ("lock-2.1-pep621", '"rich>=13"', '"rich>=14"', "content-hash differs"),
    (
        "dependency-groups-2.1",
        'test = ["iniconfig>=2"]',
        'test = ["iniconfig>=2", "pytest"]',
        "pytest",
    ),
    ("dependency-groups-2.1", 'requires-python = ">=3.11"', 'requires-python = ">=3.12"', "hash"),
    ("lock-2.0-classic", 'idna = "^3.4"', 'idna = "^3.4"\nhttpx = "*"', "httpx is not in the lock"),
    ("lock-2.0-classic", "optional = true", "optional = false", "content-hash differs"),
    ("lock-1.1", 'six = "^1.16"', 'six = "^1.16"\nhttpx = "*"', "httpx is not in the lock"),
    ("lock-1.1", 'iniconfig = "^2.0"', 'iniconfig = "^2.0"\npytest = "*"', "pytest is not"),
]


@pytest.mark.parametrize(("fixture", "old", "new", "expected"), POETRY_EDITS)
def test_poetry_edit_without_relock_is_drift(
    tmp_path: Path, fixture: str, old: str, new: str, expected: str
) -> None:
    project = _poetry_copy(tmp_path, fixture)
    assert _poetry_drift(project) == ()
    _edit(project / "pyproject.toml", old, new)
    found = _poetry_drift(project)
    assert any(expected in line for line in found), found


@pytest.mark.parametrize("fixture", ["lock-2.1-pep621", "lock-2.0-classic", "lock-1.1"])
def test_poetry_edit_outside_the_hash_is_not_drift(tmp_path: Path, fixture: str) -> None:
    project = _poetry_copy(tmp_path, fixture)
    text = (project / "pyproject.toml").read_text()
    old = next(line for line in text.splitlines() if line.startswith("description = "))
    _edit(project / "pyproject.toml", old, 'description = "changed"')
    assert _poetry_drift(project) == ()


def test_generate_refuses_poetry_drift_naming_poetry_lock(tmp_path: Path) -> None:
    project = _poetry_copy(tmp_path, "lock-2.0-classic")
    _edit(project / "pyproject.toml", 'idna = "^3.4"', 'idna = "^3.4"\nhttpx = "*"')
    result = run_p2n("generate", "--project", str(project), "--offline")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "poetry.lock: the lock does not match pyproject.toml (httpx is not in the lock)" in line
    assert "run `poetry lock`" in line
