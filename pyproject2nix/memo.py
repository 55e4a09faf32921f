"""The generate cache: the last result for a request, given again while its inputs are unchanged.

A pre-commit hook or CI step runs ``p2n generate`` (or a script around it) on
a lock that rarely changed since the last run. The result is a function of
the request, p2n itself and the files the run read, so it is kept in
``$XDG_CACHE_HOME/p2n/generate/`` under a key made of everything besides
files (p2n's version and a stamp of its own files, the Python running it, the
working directory, the request's settings and flags), beside the notes of
every file-system question the run asked (:mod:`pyproject2nix.fsread`). A
later run with the same key asks those questions again and takes the stored
result only if every answer is the same: the files it would compute are then
the same bytes (``tests/test_memo.py`` checks cold against warm, and that each
kind of input change is seen).

A run that used the network, git, uv or a build backend is not stored; nor
one that failed. A damaged or unreadable entry is a miss, rewritten by the run
that follows. The entry is marshal data (plain values only: no code runs
when it is read).
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import __version__, fsread
from .cachedir import default_cache_dir, write_entry
from .layout import library_dir
from .request import GeneratePlan, GenerateRequest, LeftOut

FORMAT = 1
"""Bumped when an entry's layout changes (older entries then never match)."""

_KEEP = 32
"""Entries kept (the newest, by modification time)."""


def cache_root(request: GenerateRequest) -> Path:
    """``--cache-dir``-like ``request.cache_dir``, else ``$XDG_CACHE_HOME/p2n``."""
    if request.cache_dir is not None:
        return request.cache_dir
    return default_cache_dir()


STAMPED_LIBRARIES = ("packaging", "tomli")
"""Libraries whose code decides generate's output (markers, versions, tags; TOML)."""


def code_stamp() -> str:
    """p2n's version and the size and modification time of each of its files.

    A source checkout keeps its version while its code changes: any edit to a
    module or to the Nix library it copies changes the stamp. The libraries that
    decide the output (:data:`STAMPED_LIBRARIES`) are stamped the same way, found
    without importing them: an upgrade rewrites their files.
    """
    package = Path(__file__).resolve().parent
    parts = [__version__]
    directories = [package, package / "index", package / "verify", library_dir()]
    for name in STAMPED_LIBRARIES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            parts.append(f"{name}: not installed")
        else:
            directories.append(Path(spec.origin).parent)
    for directory in directories:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            parts.append(f"{directory}: unreadable")
            continue
        for entry in entries:
            if entry.is_file():  # modules, compiled extensions (tomli's), the Nix library
                stat = entry.stat()
                parts.append(f"{entry.path} {stat.st_size} {stat.st_mtime_ns}")
    return "\n".join(parts)


def request_key(request: GenerateRequest) -> str:
    """Everything besides files that decides the result, as text."""
    return repr(
        (
            FORMAT,
            code_stamp(),
            sys.version,
            sys.executable,
            os.getcwd(),
            str(request.project_dir),
            repr(request.settings),
            request.offline,
            request.online,
            request.frozen,
            request.recorded,
            str(request.lock_argument),
            str(request.cache_dir),
        )
    )


def cached_plan(
    request: GenerateRequest, compute: Callable[[GenerateRequest], GeneratePlan]
) -> GeneratePlan:
    """The stored result for ``request`` if nothing it read changed, else ``compute``'s (stored)."""
    try:
        key = request_key(request)
        entry = cache_root(request) / "generate" / f"{fsread.digest(key.encode())}.marshal"
    except (OSError, RuntimeError):  # no working directory, no home: run without the cache
        return compute(request)
    found = _load(entry, key)
    if found is not None:
        return found
    with fsread.observing() as seen:
        result = compute(request)
    if seen.opaque is None:
        _store(entry, key, seen.notes, result)
    return result


def _load(entry: Path, key: str) -> GeneratePlan | None:
    try:
        stored = marshal.loads(entry.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    try:
        stored_key, notes, plain = stored
        if stored_key != key or not fsread.unchanged(notes):
            return None
        return _plan_from_plain(plain)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError):
        return None  # damaged or from another layout: a miss, rewritten after the run


def _store(entry: Path, key: str, notes: list[fsread.Note], result: GeneratePlan) -> None:
    """Write atomically (temporary file + rename); a cache that cannot be written is skipped."""
    try:
        unique = list(dict.fromkeys(notes))  # each question once (in the order first asked)
        write_entry(entry, marshal.dumps((key, unique, _plain(result))), _KEEP)
    except (OSError, ValueError):
        return


def _plain(result: GeneratePlan) -> tuple[Any, ...]:
    return (
        dict(result.files),
        tuple(result.python),
        dict(result.package_counts),
        str(result.lock_path),
        tuple(result.other_locks),
        result.resolved_files,
        result.index_requests,
        result.index_cached,
        tuple(result.trusted),
        tuple(result.drift),
        tuple((o.system, o.reason, o.missing_files, o.fix) for o in result.left_out),
    )


def _plan_from_plain(plain: tuple[Any, ...]) -> GeneratePlan:
    (
        files,
        python,
        counts,
        lock_path,
        other_locks,
        resolved,
        _requests,
        _cached,
        trusted,
        drift,
        left_out,
    ) = plain
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, bytes) for k, v in files.items()
    ):
        raise TypeError("files")
    major, minor = python
    return GeneratePlan(
        files=files,
        python=(int(major), int(minor)),
        package_counts={str(k): int(v) for k, v in counts.items()},
        lock_path=Path(lock_path),
        other_locks=tuple(str(n) for n in other_locks),
        resolved_files=int(resolved),
        index_requests=0,  # this run asked no index
        index_cached=0,
        trusted=tuple(str(t) for t in trusted),
        drift=tuple(str(d) for d in drift),
        left_out=tuple(
            LeftOut(str(system), str(reason), bool(missing), str(fix))
            for system, reason, missing, fix in left_out
        ),
        from_cache=True,
    )
