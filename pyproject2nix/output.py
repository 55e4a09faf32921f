"""Writing generated files: all or nothing, never over a foreign flake.nix.

Files are first written into a temporary directory beside the target, then
moved into place by renaming, so an interrupted run leaves the old files or
the new ones, never a half-written file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path

from .errors import OutputError
from .layout import GENERATED_MARK, OUTPUT_DIR


def keeps_flake(directory: Path, force: bool, wanted: bytes | None = None) -> bool:
    """Whether ``p2n generate`` leaves the project's ``flake.nix`` as it is.

    p2n writes ``flake.nix`` only when there is none, or with ``--force``, or
    over one that an older p2n owned (first line ``GENERATED_MARK``, data
    format 1, which the library no longer reads). Any other ``flake.nix``
    (p2n's written once, since edited, or the user's own) is kept: it uses the
    refreshed ``p2n/`` through ``import ./p2n { inherit pkgs; }``. One that
    already holds exactly ``wanted`` (what p2n would write) is p2n's and up to
    date, not kept: the run then says nothing about it.
    """
    flake = directory / "flake.nix"
    if force or not (flake.exists() or flake.is_symlink()):
        return False
    if flake.is_symlink() or not flake.is_file():
        return True
    try:
        content = flake.read_bytes()
    except OSError as exc:
        raise OutputError(f"{flake}: cannot read: {exc.strerror}") from exc
    if wanted is not None and content == wanted:
        return False
    first = content.split(b"\n", 1)[0].decode("utf-8", "replace")
    return not first.startswith(GENERATED_MARK)


def check_not_foreign(directory: Path, force: bool, files: Collection[str] = ()) -> None:
    """Refuse to replace what p2n did not write, unless forced.

    A ``p2n`` that is not a directory, and files under ``p2n/`` that p2n never
    writes (a patch kept there, notes) are the user's: replacing them needs
    ``--force``. A ``flake.nix`` that is a directory is refused when this run
    writes ``flake.nix`` (``files``: what this run writes, relative paths).
    """
    flake = directory / "flake.nix"
    if "flake.nix" in files and flake.is_dir() and not flake.is_symlink():
        raise OutputError(f"{flake}: is a directory; move it away (p2n writes a file there)")
    if force:
        return
    output = directory / OUTPUT_DIR
    if output.is_symlink() or (output.exists() and not output.is_dir()):
        raise OutputError(
            f"{output}: exists and is not p2n's output directory; move it away or pass "
            "--force to replace it"
        )
    foreign = sorted(set(_foreign_files(output)) - set(files))
    if foreign:
        shown = ", ".join(foreign[:3]) + (", …" if len(foreign) > 3 else "")
        raise OutputError(
            f"{output}: holds files p2n does not write ({shown}); p2n replaces the whole "
            "directory: move them out of p2n/ or pass --force to delete them"
        )


OWN_FILES = frozenset(
    {
        f"{OUTPUT_DIR}/lock.nix",
        f"{OUTPUT_DIR}/inputs.json",
        f"{OUTPUT_DIR}/default.nix",
        f"{OUTPUT_DIR}/build-systems.toml",
    }
)
"""Files of ``p2n/`` that p2n writes (besides everything under ``p2n/lib/``)."""


def _foreign_files(output: Path) -> list[str]:
    """Paths under ``p2n/`` (relative to the project) that p2n never writes."""
    if not output.is_dir():
        return []
    base = output.parent
    found = []
    for path in output.rglob("*"):
        if path.is_dir() and not path.is_symlink():
            continue
        relative = path.relative_to(base).as_posix()
        if relative in OWN_FILES or relative.startswith(f"{OUTPUT_DIR}/lib/"):
            continue
        found.append(relative)
    return found


def write_tree(directory: Path, files: Mapping[str, bytes]) -> list[str]:
    """Replace ``flake.nix`` and ``p2n/`` in ``directory`` with ``files``; return changed paths.

    Everything is written into a staging directory first; ``p2n/`` is then
    swapped in with one atomic exchange (Linux ``renameat2``), and top-level
    files are replaced by ``rename``. A killed run leaves the old ``p2n/`` or
    the new one, never a mix; its staging directory is removed by the next run
    (which first puts back an old ``p2n/`` that the two-rename fallback had
    moved aside). Runs in one project take turns (a lock on the directory).
    """
    try:
        with _project_lock(directory):
            return _write_tree(directory, files)
    except OSError as exc:
        where = exc.filename or directory
        raise OutputError(
            f"{where}: cannot write the generated files: {exc.strerror}; "
            "check the directory's permissions"
        ) from exc


def _write_tree(directory: Path, files: Mapping[str, bytes]) -> list[str]:
    for rel in files:
        if "/" not in rel and (directory / rel).is_dir() and not (directory / rel).is_symlink():
            raise OutputError(f"{directory / rel}: is a directory; move it away")
    _recover_locked(directory)
    changed = [rel for rel, content in files.items() if _read(directory / rel) != content]
    wanted = {rel for rel in files if rel.startswith(OUTPUT_DIR + "/")}
    if not changed and _listing(directory / OUTPUT_DIR) == wanted:
        return []
    import shutil  # an up-to-date generate (the common run) writes nothing
    import tempfile

    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=directory))
    try:
        for rel, content in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            os.chmod(path, 0o644)
        for path in staging.rglob("*"):
            if path.is_dir():
                os.chmod(path, 0o755)
        target = directory / OUTPUT_DIR
        if target.is_dir() and not target.is_symlink():
            _exchange(staging / OUTPUT_DIR, target)
        else:
            if target.is_symlink() or target.exists():
                os.replace(target, staging / (OUTPUT_DIR + ".replaced"))
            os.rename(staging / OUTPUT_DIR, target)
        for rel in files:
            if "/" not in rel:
                os.replace(staging / rel, directory / rel)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return changed


def recover(directory: Path) -> None:
    """Undo what a killed ``p2n generate`` left, before anything reads ``p2n/``.

    The two-rename fallback of :func:`_exchange` (no ``renameat2``, e.g. macOS)
    moves the old ``p2n/`` aside first: killed there, the project has no
    ``p2n/`` and the old one (with ``build-systems.toml``) is put back.
    """
    try:
        with _project_lock(directory):
            _recover_locked(directory)
    except OSError as exc:
        raise OutputError(
            f"{exc.filename or directory}: cannot clean up after an interrupted run: {exc.strerror}"
        ) from exc


def _recover_locked(directory: Path) -> None:
    leftovers = sorted(directory.glob(STAGING_PREFIX + "*"))
    target = directory / OUTPUT_DIR
    for leftover in leftovers:
        aside = leftover / (OUTPUT_DIR + ASIDE_SUFFIX)
        if aside.is_dir() and not target.exists() and not target.is_symlink():
            os.rename(aside, target)  # killed between the fallback's two renames
    if leftovers:
        import shutil

        for leftover in leftovers:
            shutil.rmtree(leftover, ignore_errors=True)


@contextlib.contextmanager
def _project_lock(directory: Path) -> Iterator[None]:
    """An exclusive ``flock`` on the project directory itself (no lock file in the tree)."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


STAGING_PREFIX = ".p2n-new-"
ASIDE_SUFFIX = ".old"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(new: Path, old: Path) -> None:
    """Atomically swap two directories; two renames where the kernel cannot."""
    import ctypes  # only when files change: an up-to-date generate never swaps

    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is not None:
        result = renameat2(
            _AT_FDCWD, os.fsencode(new), _AT_FDCWD, os.fsencode(old), _RENAME_EXCHANGE
        )
        if result == 0:
            return
    aside = new.with_name(new.name + ASIDE_SUFFIX)
    os.rename(old, aside)
    os.rename(new, old)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _listing(directory: Path) -> set[str]:
    if not directory.is_dir():
        return set()
    base = directory.parent
    return {p.relative_to(base).as_posix() for p in directory.rglob("*") if p.is_file()}
