"""A red-team pass over what reaches files, paths and Nix text (issue 13).

One test (or a few) per numbered item of the issue; each failed before its fix.
Git argument injection (items 1 and 6) lives in test_hostile_git.py.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import EXAMPLE, PYLOCK_FIXTURES, copy_project, run_p2n

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


# --- Items 4, 5 and 13: files that are the user's, all-or-nothing, leftovers -------------


def _generated_example(tmp_path: Path) -> Path:
    project = copy_project(EXAMPLE, tmp_path / "hello")
    result = run_p2n("generate", "--project", str(project), "--offline")
    assert result.returncode == 0, result.stderr
    return project


def test_a_file_named_p2n_is_not_deleted_without_force(tmp_path: Path) -> None:
    """Item 4: a regular file ``p2n`` is the user's."""
    project = copy_project(EXAMPLE, tmp_path / "hello")
    shutil.rmtree(project / "p2n")
    (project / "p2n").write_text("my notes\n")
    # Without p2n/build-systems.toml the build requirements are resolved again (uv).
    result = run_p2n("generate", "--project", str(project))
    assert result.returncode == 2
    assert "is not p2n's output directory" in result.stderr
    assert (project / "p2n").read_text() == "my notes\n"
    forced = run_p2n("generate", "--project", str(project), "--force")
    assert forced.returncode == 0, forced.stderr
    assert (project / "p2n" / "lock.nix").is_file()


def test_user_files_under_p2n_are_not_deleted_without_force(tmp_path: Path) -> None:
    """Item 4: a patch kept under p2n/ (even one [tool.p2n] names) survives."""
    project = _generated_example(tmp_path)
    patch = project / "p2n" / "patches" / "fix.patch"
    patch.parent.mkdir()
    patch.write_text("--- a\n+++ b\n")
    with (project / "pyproject.toml").open("a") as handle:
        handle.write('\n[tool.p2n.packages.attrs]\npatches = ["p2n/patches/fix.patch"]\n')
    result = run_p2n("generate", "--project", str(project), "--offline")
    assert result.returncode == 2
    assert "holds files p2n does not write (p2n/patches/fix.patch)" in result.stderr
    assert patch.read_text() == "--- a\n+++ b\n"


def test_kill_between_the_fallback_renames_keeps_the_old_output(tmp_path: Path) -> None:
    """Item 5: killed between the two renames (no renameat2), the next run puts p2n/ back."""
    project = _generated_example(tmp_path)
    build_lock = (project / "p2n" / "build-systems.toml").read_bytes()
    staging = project / ".p2n-new-killed"
    staging.mkdir()
    (project / "p2n").rename(staging / "p2n.old")  # the state a kill there leaves
    checked = run_p2n("check", "--project", str(project))
    assert checked.returncode == 1
    assert "an interrupted p2n generate left .p2n-new-killed" in checked.stderr
    result = run_p2n("generate", "--project", str(project), "--offline")
    assert result.returncode == 0, result.stderr
    assert (project / "p2n" / "build-systems.toml").read_bytes() == build_lock
    assert not staging.exists()
    assert run_p2n("check", "--project", str(project)).returncode == 0


def test_flake_nix_directory_is_refused_before_anything_changes(tmp_path: Path) -> None:
    """Item 5: with flake.nix a directory, --force used to replace p2n/ and then crash."""
    project = _generated_example(tmp_path)
    before = (project / "p2n" / "lock.nix").read_bytes()
    (project / "flake.nix").unlink()
    (project / "flake.nix").mkdir()
    (project / "uv.lock").write_text((project / "uv.lock").read_text() + "\n")
    for extra in ((), ("--force",)):
        result = run_p2n("generate", "--project", str(project), "--offline", *extra)
        assert result.returncode == 2, result.stderr
        assert "flake.nix: is a directory" in result.stderr
        assert (project / "p2n" / "lock.nix").read_bytes() == before


def test_dangling_flake_symlink_is_not_replaced_without_force(tmp_path: Path) -> None:
    """Item 13: a dangling flake.nix symlink is the user's."""
    project = copy_project(EXAMPLE, tmp_path / "hello")
    (project / "flake.nix").symlink_to("elsewhere/flake.nix")
    result = run_p2n("generate", "--project", str(project), "--offline")
    assert result.returncode == 2
    assert "is a symlink" in result.stderr
    assert (project / "flake.nix").is_symlink()


def test_check_of_a_missing_directory_is_bad_input() -> None:
    """Item 13: exit 2 (bad input), not 1 (stale)."""
    result = run_p2n("check", "--project", "/nonexistent/p2n-project")
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_two_generates_at_once_take_turns(tmp_path: Path) -> None:
    """Item 9: concurrent runs in one project crashed on each other's staging directory.

    Runs now take turns on a lock of the project directory: while this test
    holds it, a generate waits, and finishes once it is released.
    """
    project = _generated_example(tmp_path)
    (project / "uv.lock").write_text((project / "uv.lock").read_text() + "\n")
    command = [sys.executable, "-m", "pyproject2nix", "generate", "--project", str(project)]
    descriptor = os.open(project, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        waiting = subprocess.Popen([*command, "--offline"], stderr=subprocess.PIPE, text=True)
        time.sleep(5)
        assert waiting.poll() is None, "generate did not wait for the project's lock"
    finally:
        os.close(descriptor)
    _, stderr = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, stderr
    assert run_p2n("check", "--project", str(project)).returncode == 0


def test_unwritable_project_is_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 9: a read-only project dir gave a traceback (root ignores modes, so fake it)."""
    from pyproject2nix import output
    from pyproject2nix.errors import OutputError

    def refuse(**_: object) -> str:
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr(output.tempfile, "mkdtemp", refuse)
    with pytest.raises(OutputError, match="cannot write the generated files: Permission denied"):
        output.write_tree(tmp_path, {"flake.nix": b"x"})
