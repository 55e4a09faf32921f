"""A red-team pass over what reaches files, paths and Nix text (issue 13).

One test (or a few) per numbered item of the issue; each failed before its fix.
Git argument injection (items 1 and 6) lives in test_hostile_git.py.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import PYLOCK_FIXTURES, run_p2n

EVIL_PYLOCK = 'pylock.a\nabort "pwned" #.toml'


def _pylock_project(tmp_path: Path, lock_name: str = "pylock.toml") -> Path:
    project = tmp_path / "hello"
    shutil.copytree(
        PYLOCK_FIXTURES / "hello", project, ignore=shutil.ignore_patterns("p2n", "flake.nix")
    )
    if lock_name != "pylock.toml":
        (project / "pylock.toml").rename(project / lock_name)
    return project


def _header_lines(text: str) -> list[str]:
    lines = text.splitlines()
    return lines[: lines.index("{")]


def test_lock_file_name_cannot_end_the_header_comment(tmp_path: Path) -> None:
    """Item 2: a newline in ``pylock.<name>.toml`` stays inside the comment."""
    project = _pylock_project(tmp_path, EVIL_PYLOCK)
    result = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert result.returncode == 0, result.stderr
    for name in ("flake.nix", "p2n/lock.nix"):
        text = (project / name).read_text()
        header = _header_lines(text)
        assert all(line.startswith("#") for line in header), header
        assert 'pylock.a\\u{a}abort "pwned" #.toml' in header[0]
    checked = run_p2n("check", "--project", str(project))
    assert checked.returncode == 0, checked.stderr


def _path_wheel_project(tmp_path: Path, location: str) -> Path:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "1"\nrequires-python = ">=3.11"\n'
        'dependencies = ["dep"]\n'
    )
    digest = hashlib.sha256(WHEEL_BYTES).hexdigest()
    (project / "uv.lock").write_text(
        'version = 1\nrevision = 3\nrequires-python = ">=3.11"\n'
        '[[package]]\nname = "app"\nversion = "1"\nsource = { editable = "." }\n'
        'dependencies = [{ name = "dep" }]\n'
        '[[package]]\nname = "dep"\nversion = "1.0"\n'
        f"source = {{ path = {json.dumps(location)} }}\n"
        f'wheels = [{{ filename = "dep-1.0-py3-none-any.whl", hash = "sha256:{digest}" }}]\n'
    )
    return project


WHEEL_BYTES = b"not really a zip, but hashed"


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_path_wheel_outside_the_project_is_refused(tmp_path: Path, how: str) -> None:
    """Item 3: files of path sources must lie below the project, like directories."""
    outside = tmp_path / "outside" / "dep-1.0-py3-none-any.whl"
    outside.parent.mkdir()
    outside.write_bytes(WHEEL_BYTES)
    location = {
        "dotdot": "../outside/dep-1.0-py3-none-any.whl",
        "absolute": str(outside),
        "symlink": "dist/dep-1.0-py3-none-any.whl",
    }[how]
    project = _path_wheel_project(tmp_path, location)
    if how == "symlink":
        (project / "dist").mkdir()
        (project / location).symlink_to(outside)
    result = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert result.returncode == 2, result.stdout
    assert "is outside the project directory" in result.stderr
    assert not (project / "p2n").exists()


def test_path_wheel_inside_the_project_is_accepted(tmp_path: Path) -> None:
    project = _path_wheel_project(tmp_path, "dist/dep-1.0-py3-none-any.whl")
    (project / "dist").mkdir()
    (project / "dist" / "dep-1.0-py3-none-any.whl").write_bytes(WHEEL_BYTES)
    result = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert result.returncode == 0, result.stderr
    assert 'path = "dist/dep-1.0-py3-none-any.whl";' in (project / "p2n/lock.nix").read_text()
