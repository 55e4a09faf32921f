"""The compact index cache: the files of locked versions only, one small file per index.

The page cache (``client``) keeps whole project pages, every version of a
project: 39 MB of JSON for a 162-package poetry.lock, 4.7 MB for
pydantic-core alone, all parsed on every run to find a few files. A run needs
only the files of the locked versions, so this cache keeps just those, per
index: ``project → version → filename → (url, sha256)``, filled from the pages
a run had to read. A warm run reads one small file per index and no page.

An entry answers only while it agrees with the lock: the lock's sha256 is
authoritative, and a cached file whose sha256 differs is a miss, so the page
is asked for again (and if the index still disagrees, resolve refuses). A
version the cache has not seen (the lock moved on) is a miss too. Versions are
keyed in canonical form (``1.0`` and ``1.0.0`` are one PEP 440 version).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from .. import fsread
from .simple import IndexFile

STORE_FORMAT = 1
MAX_PROJECTS = 20_000
"""Projects kept per index file; the least recently fetched go first."""
MAX_VERSIONS = 8
"""Versions kept per project: locks move on, old versions are rarely asked again."""

Files = Mapping[str, IndexFile]
"""Files by file name."""


@dataclass(frozen=True)
class VersionRequest:
    """The files of one locked version that a run needs from its index."""

    index_url: str
    project: str
    """Normalised project name."""
    version: Version | None
    files: Mapping[str, str] | None = None
    """File name → the lock's sha256 ("" when the lock has none); None: every file of the
    version (a lock that lists no files for the package)."""

    @cached_property
    def version_key(self) -> str:
        return canonicalize_version(self.version) if self.version is not None else ""

    @cached_property
    def key(self) -> tuple[str, str, str]:
        return (self.index_url, self.project, self.version_key)


def agrees(index_sha256: str, lock_sha256: str) -> bool:
    """Whether an index's file may stand for the lock's: same sha256, or one side has none.

    With a lock hash, an index that gives none cannot contradict it (Nix checks
    the lock's hash on fetch); without one the index must give a hash to use.
    """
    if lock_sha256:
        return index_sha256 in (lock_sha256, "")
    return bool(index_sha256)


def answers(request: VersionRequest, files: Files, complete: bool) -> bool:
    """Whether ``files`` (of the requested version) hold everything ``request`` needs."""
    if request.files is None:
        return complete and bool(files)
    for filename, sha256 in request.files.items():
        found = files.get(filename)
        if found is None or not agrees(found.sha256, sha256):
            return False
    return True


def files_of_version(page: Files, request: VersionRequest) -> dict[str, IndexFile]:
    """What a project page gives for ``request``: its named files, or every file of its version."""
    if request.files is not None:
        return {name: page[name] for name in request.files if name in page}
    return {
        name: found
        for name, found in sorted(page.items())
        if _version_of(name, request.project) == request.version
    }


def _version_of(filename: str, project: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return version if name == project else None


def shortened(items: Sequence[str], shown: int = 5) -> str:
    """``a, b, c, d, e and 3 more``: a list for a one-line message."""
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


def index_key(shown_index_url: str) -> str:
    """A file-name-safe key of an index URL (already without credentials)."""
    return hashlib.sha256(shown_index_url.rstrip("/").encode()).hexdigest()[:24]


class VersionStore:
    """One index's cached versions: read once per run, written back only when added to."""

    def __init__(self, path: Path, shown_index_url: str) -> None:
        self.path = path
        self.index = shown_index_url
        self._projects: dict[str, dict[str, list[Any]]] = _read(path)
        self._changed = False

    def lookup(self, request: VersionRequest) -> dict[str, IndexFile] | None:
        """The cached files answering ``request``, or None (a miss)."""
        entry = self._projects.get(request.project, {}).get(request.version_key)
        if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[1], dict):
            return None  # absent or damaged: ask the index
        complete, listed = entry[0] is True, entry[1]
        names: Iterable[str] = listed if request.files is None else request.files
        files: dict[str, IndexFile] = {}
        for name in names:
            pair = listed.get(name)
            if pair is None:
                continue
            if not (isinstance(pair, list) and len(pair) == 2):
                return None
            if not (isinstance(pair[0], str) and isinstance(pair[1], str)):
                return None
            files[name] = IndexFile(name, pair[0], pair[1])
        return files if answers(request, files, complete) else None

    def record(self, request: VersionRequest, files: Files) -> None:
        """Remember what a page gave for ``request`` (merged with what was cached)."""
        if not files:
            return
        versions = self._projects.pop(request.project, {})
        self._projects[request.project] = versions  # most recently fetched last
        old = versions.pop(request.version_key, None)
        complete = request.files is None
        listed: dict[str, list[str]] = {}
        if not complete and isinstance(old, list) and len(old) == 2 and isinstance(old[1], dict):
            listed.update(old[1])  # files other runs (other systems, Pythons) needed
            complete = old[0] is True
        listed.update({name: [f.url, f.sha256] for name, f in files.items()})
        versions[request.version_key] = [complete, listed]
        while len(versions) > MAX_VERSIONS:
            del versions[next(iter(versions))]
        while len(self._projects) > MAX_PROJECTS:
            del self._projects[next(iter(self._projects))]
        self._changed = True

    def save(self) -> None:
        if not self._changed:
            return
        document = {"format": STORE_FORMAT, "index": self.index, "projects": self._projects}
        write_cache_file(self.path, json.dumps(document, separators=(",", ":")))
        self._changed = False


def _read(path: Path) -> dict[str, dict[str, list[Any]]]:
    try:
        document = json.loads(fsread.read_bytes(path))
    except (OSError, ValueError):
        return {}  # absent or damaged: start empty
    if not isinstance(document, dict) or document.get("format") != STORE_FORMAT:
        return {}
    projects = document.get("projects")
    if not isinstance(projects, dict):
        return {}
    return {k: v for k, v in projects.items() if isinstance(v, dict)}


def write_cache_file(path: Path, text: str) -> None:
    """Replace ``path`` atomically; a cache that cannot be written only costs time later."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "w") as out:
                out.write(text)
            os.replace(temporary, path)
        except OSError:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError:
        pass
