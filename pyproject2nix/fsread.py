"""The file-system questions a generation asks, noted so a cached result can be checked.

``p2n generate`` computes its files from the files it reads, its request and
p2n itself. Every read that can change its output goes through this module:
reading a file, asking whether a path is a file, a directory or a symlink,
resolving it, listing or globbing a directory. While an :class:`Observation`
is active each question is noted with its answer (a file's sha256, not its
bytes). The generate cache (:mod:`pyproject2nix.memo`) keeps a result with
the notes of the run that made it, and gives it again only when every
question, asked again, gets the same answer: the run would then read the
same bytes and take the same path, so it would compute the same files.

What is not a file-system question (the network, git, uv, a build backend)
calls :func:`opaque`: a run that did any of it is not cached. Reads that only
make a run faster and never change its result (p2n's TOML parse cache) and
p2n's own files (covered by the cache key) are not noted.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

Note = tuple[str, str, str]
"""``(question, absolute path, answer)``; a glob's path is ``directory + "\\0" + pattern``."""


@dataclass
class Observation:
    """The questions one run asked, and whether it did anything else (then it is opaque)."""

    notes: list[Note] = field(default_factory=list)
    opaque: str | None = None
    """Why the run cannot be cached (the first thing it did besides reading files)."""


_active: Observation | None = None


@contextmanager
def observing() -> Iterator[Observation]:
    """Note every question asked through this module until the block ends."""
    global _active
    outer, _active = _active, Observation()
    try:
        yield _active
    finally:
        _active = outer


def opaque(reason: str) -> None:
    """The run used something besides files (``reason``): its result is not cached."""
    if _active is not None and _active.opaque is None:
        _active.opaque = reason


def _note(question: str, path: str, answer: str) -> None:
    if _active is not None:
        _active.notes.append((question, os.path.abspath(path), answer))


def _note_glob(directory: Path, pattern: str, answer: str) -> None:
    if _active is not None:  # the pattern stays as given (normalising could change it)
        _active.notes.append(("glob", f"{os.path.abspath(directory)}\0{pattern}", answer))


def digest(data: bytes) -> str:
    """The sha256 of ``data`` in hex (the last few are remembered: the lock is asked thrice)."""
    for seen, known in _recent:
        if seen is data:
            return known
    found = hashlib.sha256(data).hexdigest()
    _recent[:] = [(data, found), *_recent[:3]]
    return found


_recent: list[tuple[bytes, str]] = []
"""The last digests computed, with the very bytes object they are of (compared by identity)."""


def read_bytes(path: Path) -> bytes:
    """The content of ``path`` (an OSError is noted too, then raised)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        _note("read", str(path), f"error {exc.errno}")
        raise
    if _active is not None:
        _note("read", str(path), digest(data))
    return data


def read_text(path: Path) -> str:
    """The content of ``path`` as UTF-8 (decoding errors raise as ``read_text`` does)."""
    return read_bytes(path).decode("utf-8")


def _probe(kind: str, path: Path, found: bool) -> bool:
    """``found``, the answer to question ``kind`` about ``path``, noted."""
    _note(kind, str(path), str(found))
    return found


def is_file(path: Path) -> bool:
    """``path.is_file()``, noted."""
    return _probe("is_file", path, path.is_file())


def is_dir(path: Path) -> bool:
    """``path.is_dir()``, noted."""
    return _probe("is_dir", path, path.is_dir())


def exists(path: Path) -> bool:
    """``path.exists()``, noted."""
    return _probe("exists", path, path.exists())


def is_symlink(path: Path) -> bool:
    """``path.is_symlink()``, noted."""
    return _probe("is_symlink", path, path.is_symlink())


def resolve(path: Path) -> Path:
    """``path.resolve()`` (symlinks followed), noted."""
    found = path.resolve()
    _note("resolve", str(path), str(found))
    return found


def glob(directory: Path, pattern: str) -> list[Path]:
    """``directory.glob(pattern)``, sorted, noted."""
    found = sorted(directory.glob(pattern))
    _note_glob(directory, pattern, _names(found, directory))
    return found


def iterdir(directory: Path) -> list[Path]:
    """``directory.iterdir()``, sorted, noted."""
    found = sorted(directory.iterdir())
    _note("list", str(directory), _names(found, directory))
    return found


def _names(paths: Sequence[Path], directory: Path) -> str:
    """Paths found below ``directory``, relative to it (so the working directory does not show)."""
    return "\0".join(str(p.relative_to(directory)) for p in paths)


def _answer(question: str, path: str) -> str:
    """The answer ``question`` about ``path`` gets now (as :func:`_note` wrote it)."""
    if question == "read":
        try:
            with open(path, "rb") as handle:
                return digest(handle.read())
        except OSError as exc:
            return f"error {exc.errno}"
    if question == "glob":
        directory, _, pattern = path.partition("\0")
        return _names(sorted(Path(directory).glob(pattern)), Path(directory))
    target = Path(path)
    if question == "list":
        return _names(sorted(target.iterdir()), target)
    if question == "resolve":
        return str(target.resolve())
    checks = {
        "is_file": Path.is_file,
        "is_dir": Path.is_dir,
        "exists": Path.exists,
        "is_symlink": Path.is_symlink,
    }
    return str(checks[question](target))


def unchanged(notes: Sequence[Note]) -> bool:
    """Whether every noted question gets the same answer now."""
    for question, path, answer in notes:
        try:
            if _answer(question, path) != answer:
                return False
        except (OSError, KeyError, ValueError, RuntimeError):  # RuntimeError: a symlink loop
            return False
    return True
