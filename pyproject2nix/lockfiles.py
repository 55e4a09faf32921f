"""Finding and reading a project's lock file, whichever format it is.

``p2n generate``, ``check`` and ``diff`` share these: the lock names p2n
reads and in which order, the reader of each format, and the error for a
lock that no longer matches pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

from . import fsread
from .errors import InputError
from .model import Lock
from .project import LocalProject
from .tomlfile import load_toml
from .uvlock import read_uv_lock

LOCK_NAMES = ("uv.lock", "poetry.lock", "pylock.toml", "Pipfile.lock", "requirements.txt")
"""Lock files p2n reads, in the order it prefers them."""


def find_locks(
    project_dir: Path, lock_file: Path | None = None, flag: str = "--lock"
) -> list[Path]:
    """``--lock``, else every lock file of the project, preferred first.

    uv.lock, poetry.lock, pylock.toml, then ``pylock.<name>.toml`` (PEP 751).
    """
    if lock_file is not None:
        beside = project_dir / lock_file  # a bare name is the project's, whatever the cwd
        path = beside if not lock_file.is_absolute() and fsread.is_file(beside) else lock_file
        if not fsread.is_file(path):
            path = beside
        if not fsread.is_file(path):
            raise InputError(f"{flag} {lock_file}: no such file")
        if fsread.resolve(path).parent != fsread.resolve(project_dir):
            raise InputError(
                f"{flag} {lock_file}: the lock must be in the project directory {project_dir} "
                "(beside pyproject.toml)"
            )
        return [path]
    found = [project_dir / name for name in LOCK_NAMES if fsread.is_file(project_dir / name)]
    named_pylocks = fsread.glob(project_dir, "pylock.*.toml")
    if named_pylocks:
        from .pylock import is_pylock_name

        found += [p for p in named_pylocks if is_pylock_name(p.name)]
    if not found:
        raise InputError(
            f"{project_dir}: no uv.lock found; run `uv lock` first "
            "(p2n also reads poetry.lock, pylock.toml, Pipfile.lock and requirements.txt)"
        )
    if len(found) > 1 and all(p.name.startswith("pylock.") for p in found[:2]):
        raise InputError(
            f"{project_dir}: several PEP 751 locks ({', '.join(p.name for p in found)}); "
            "choose one with --lock"
        )
    return found


def find_lock(project_dir: Path, lock_file: Path | None = None) -> Path:
    """The lock file ``p2n generate`` reads (see :func:`find_locks`)."""
    return find_locks(project_dir, lock_file)[0]


def read_lock(path: Path, project: LocalProject) -> Lock:
    """Parse a lock of any supported format, chosen by its file name."""
    if path.name == "uv.lock":
        return read_uv_lock(path, project.name, drift=True)
    # Imported here: a uv.lock (the common case) does not pay for the other readers.
    from .poetrylock import read_poetry_lock
    from .pylock import is_pylock_name, read_pylock

    if path.name == "poetry.lock":
        return read_poetry_lock(path, path.parent / "pyproject.toml")
    if path.name == "Pipfile.lock":
        from .pipfilelock import read_pipfile_lock

        return read_pipfile_lock(path, project.name)
    if path.suffix == ".txt":
        from .requirements import read_requirements

        return read_requirements(path, project.name)
    if is_pylock_name(path.name):
        return read_pylock(path, project.name)
    top = load_toml(path)
    if "metadata" in top and "package" in top:
        return read_poetry_lock(path, path.parent / "pyproject.toml")
    if "lock-version" in top:
        return read_pylock(path, project.name)
    return read_uv_lock(path, project.name, drift=True)


def relock_command(lock_path: Path) -> str:
    """The command that brings a lock back in line with pyproject.toml."""
    return "poetry lock" if "poetry" in lock_path.name else "uv lock"


def drift_summary(drift: tuple[str, ...], shown: int = 4) -> str:
    """The first few differences between lock and pyproject.toml, on one line."""
    more = len(drift) - shown
    return "; ".join(drift[:shown]) + (f"; and {more} more" if more > 0 else "")


class LockDriftError(InputError):
    """The lock no longer matches pyproject.toml (``p2n check`` reports it as stale)."""

    def __init__(self, lock: Lock) -> None:
        self.lock_path = lock.path
        self.drift = lock.drift
        super().__init__(
            f"{lock.path}: the lock does not match pyproject.toml ({drift_summary(lock.drift)}); "
            f"run `{relock_command(lock.path)}` to update it, or pass --frozen to use it as it is"
        )
