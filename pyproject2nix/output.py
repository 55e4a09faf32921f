"""Writing generated files: all or nothing, never over a foreign flake.nix.

Files are first written into a temporary directory beside the target, then
moved into place by renaming, so an interrupted run leaves the old files or
the new ones, never a half-written file.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .errors import OutputError
from .render import GENERATED_MARK, OUTPUT_DIR


def check_not_foreign(directory: Path, force: bool) -> None:
    """Refuse to replace a flake.nix that p2n did not write, unless forced."""
    flake = directory / "flake.nix"
    if force or not flake.exists():
        return
    with flake.open("rb") as handle:
        first = handle.readline().decode("utf-8", "replace")
    if not first.startswith(GENERATED_MARK):
        raise OutputError(
            f"{flake}: exists and was not written by p2n; move it away or pass --force "
            "to replace it"
        )


def write_tree(directory: Path, files: Mapping[str, bytes]) -> list[str]:
    """Replace ``flake.nix`` and ``p2n/`` in ``directory`` with ``files``; return changed paths.

    Everything is written into a staging directory first; ``p2n/`` is then
    swapped in with one atomic exchange (Linux ``renameat2``), and top-level
    files are replaced by ``rename``. A killed run leaves the old ``p2n/`` or
    the new one, never a mix; its staging directory is removed by the next run.
    """
    for leftover in directory.glob(STAGING_PREFIX + "*"):
        shutil.rmtree(leftover, ignore_errors=True)
    changed = [rel for rel, content in files.items() if _read(directory / rel) != content]
    wanted = {rel for rel in files if rel.startswith(OUTPUT_DIR + "/")}
    if not changed and _listing(directory / OUTPUT_DIR) == wanted:
        return []
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
        if target.exists():
            _exchange(staging / OUTPUT_DIR, target)
        else:
            os.rename(staging / OUTPUT_DIR, target)
        for rel in files:
            if "/" not in rel:
                os.replace(staging / rel, directory / rel)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return changed


STAGING_PREFIX = ".p2n-new-"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(new: Path, old: Path) -> None:
    """Atomically swap two directories; two renames where the kernel cannot."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is not None:
        result = renameat2(
            _AT_FDCWD, os.fsencode(new), _AT_FDCWD, os.fsencode(old), _RENAME_EXCHANGE
        )
        if result == 0:
            return
    aside = new.with_name(new.name + ".old")
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
