"""The two sides of ``p2n diff``: a lock file, a project directory, or a git revision of a lock.

Each side ends up as a lock file on disk beside the pyproject.toml it was
made from (the poetry.lock reader needs it; the uv.lock reader wants the
project's name), then goes through the ordinary readers. A git revision
(``REV:PATH``, git's own syntax) is copied out of the repository with
``git cat-file`` into a temporary directory together with that revision's
pyproject.toml; nothing in the working tree is touched.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from .errors import InputError, P2NError
from .model import Lock

PYPROJECT = "pyproject.toml"


@dataclass(frozen=True)
class DiffSide:
    """One side of a diff: what the user named, and the lock read from it."""

    label: str
    lock: Lock


def _git_blob(spec: str, cwd: Path) -> bytes | None:
    """The blob ``spec`` (``REV:PATH``) names, or None when git knows no such file."""
    proc = _git_cat_file(spec, cwd)
    return proc.stdout if proc.returncode == 0 else None


def _git_cat_file(spec: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", "cat-file", "blob", "--end-of-options", spec],
        cwd=cwd,
        capture_output=True,
        check=False,
    )


def _git_failure(spec: str, cwd: Path) -> str:
    """Why git could not give ``spec``, in git's own first line (not a repository, no such rev…)."""
    proc = _git_cat_file(spec, cwd)
    lines = proc.stderr.decode(errors="replace").strip().splitlines()
    return lines[0].removeprefix("fatal: ") if lines else "git has no such file"


def _is_git_spec(text: str) -> bool:
    rev, sep, _ = text.partition(":")
    return bool(sep) and bool(rev) and not Path(text).exists()


@contextmanager
def materialized(spec: str, cwd: Path) -> Iterator[tuple[Path, Path]]:
    """``(lock file, project directory)`` for ``spec``, valid inside the ``with`` block.

    ``spec`` is a lock file, a project directory (its lock, chosen as
    ``p2n generate`` would), or ``REV:PATH`` naming a lock in git.
    """
    if spec.startswith("-"):
        raise InputError(f"p2n diff: {spec!r} is neither a file nor a git REV:PATH")
    if _is_git_spec(spec):
        rev, _, inside = spec.partition(":")
        blob = _git_blob(spec, cwd)
        if blob is None:
            hint = (
                ""
                if inside.startswith("./")
                else f" (a PATH after ':' is from the repository root; {rev}:./PATH is "
                "from the current directory)"
            )
            raise InputError(f"p2n diff: {spec}: {_git_failure(spec, cwd)}{hint}")
        name = PurePosixPath(inside).name
        parent = PurePosixPath(inside).parent
        pyproject = _git_blob(f"{rev}:{(parent / PYPROJECT).as_posix()}", cwd)
        with tempfile.TemporaryDirectory(prefix="p2n-diff-") as temporary:
            directory = Path(temporary)
            (directory / name).write_bytes(blob)
            if pyproject is not None:
                (directory / PYPROJECT).write_bytes(pyproject)
            yield directory / name, directory
        return
    path = Path(spec) if Path(spec).is_absolute() else cwd / spec
    if path.is_dir():
        from .lockfiles import find_lock

        yield find_lock(path, _recorded_lock(path)), path
    elif path.is_file():
        yield path, path.parent
    else:
        raise InputError(f"p2n diff: {spec}: no such file or directory (nor git REV:PATH)")


def _recorded_lock(directory: Path) -> Path | None:
    """The lock a generated project was made from (``--lock`` recorded in p2n/lock.nix)."""
    from .check import LOCK_DATA, recorded_settings

    if not (directory / LOCK_DATA).is_file():
        return None
    lock_file = recorded_settings(directory / LOCK_DATA).lock_file
    return Path(lock_file) if lock_file else None


def read_side(spec: str, cwd: Path) -> DiffSide:
    """Read the lock ``spec`` names through the reader of its format."""
    from .lockfiles import read_lock
    from .project import LocalProject, read_project

    with materialized(spec, cwd) as (lock_path, directory):
        try:
            if (directory / PYPROJECT).is_file():
                project = read_project(directory)
            else:
                project = LocalProject(directory, None, None, (), ".")
            lock = read_lock(lock_path, project)
        except P2NError as exc:
            if not _is_git_spec(spec):
                raise
            # Name the revision, not the temporary copy, in the one-line error.
            text = str(exc).replace(str(lock_path), spec).replace(str(directory), spec)
            raise InputError(text) from exc
    return DiffSide(label=spec, lock=replace(lock, path=Path(spec)))
