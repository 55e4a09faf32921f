"""A red-team pass over what reaches files, paths and Nix text (issue 13).

One test (or a few) per numbered item of the issue; each failed before its fix.
Git argument injection (items 1 and 6) lives in test_hostile_git.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

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
