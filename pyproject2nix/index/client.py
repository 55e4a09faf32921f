"""Fetching simple-API project pages: concurrent, retried, cached on disk.

Two caches under the XDG cache directory. The compact one (``versions``) holds
the files of the versions locks asked for, one small file per index: a warm
run reads only that. Behind it, each page is cached whole per (index,
project), so a lock that moves to a version already listed there, or
``--offline``, needs no request. A cached page is used when it already lists
what the caller needs (the chosen files); a page that lacks a needed file (a
newer release) is fetched again.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from .. import __version__, fsread
from ..cachedir import default_cache_dir
from ..errors import IndexQueryError
from .simple import ACCEPT, IndexFile, PageError, page_url, parse_page
from .versions import (
    VersionRequest,
    VersionStore,
    answers,
    files_of_version,
    index_key,
    shortened,
    write_cache_file,
)

if TYPE_CHECKING:
    from concurrent.futures import Future
    from urllib.request import Request

# The network modules (urllib.request pulls in http.client, ssl, email) are
# imported where pages are fetched: most runs answer from the lock or the cache.

CACHE_FORMAT = 1
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})

Files = Mapping[str, IndexFile]
"""A project page: its files by file name."""


def display_url(url: str) -> str:
    """A URL without user:password, for messages."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class PageRequest:
    """One project page to get, and what it must list for a cached copy to do."""

    index_url: str
    project: str
    satisfied: Callable[[Files], bool]
    what: str
    """What is needed, for the --offline error (e.g. the file names)."""


class IndexClient:
    """Gets project pages from indexes; counts requests so callers can report them."""

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        offline: bool = False,
        max_workers: int = 8,
        retries: int = 3,
        timeout: float = 30.0,
        backoff: float = 0.5,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
        self.offline = offline
        self.max_workers = max_workers
        self.retries = retries
        self.timeout = timeout
        self.backoff = backoff
        self.progress = progress
        self.requests = 0
        self.from_cache = 0
        self._lock = threading.Lock()

    def pages(self, wanted: Sequence[PageRequest]) -> dict[tuple[str, str], Files]:
        """Every requested page, by ``(index_url, project)``; the first error stops all."""
        result: dict[tuple[str, str], Files] = {}
        if not wanted:
            return result
        from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

        done = 0
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            futures: dict[Future[Files], PageRequest] = {
                pool.submit(self.page, request): request for request in wanted
            }
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in finished:
                    error = future.exception()
                    if error is not None:
                        for other in pending:
                            other.cancel()
                        raise error
                    request = futures[future]
                    result[(request.index_url, request.project)] = future.result()
                    done += 1
                    if self.progress is not None:
                        self.progress(done, len(wanted))
        return result

    def version_files(
        self, wanted: Sequence[VersionRequest]
    ) -> dict[tuple[str, str, str], dict[str, IndexFile]]:
        """The files of each requested version, by :attr:`VersionRequest.key`.

        From the compact cache where it answers, else from the project's page
        (cached or fetched), whose files of those versions are then remembered.
        """
        stores: dict[str, VersionStore] = {}
        result: dict[tuple[str, str, str], dict[str, IndexFile]] = {}
        missing: dict[tuple[str, str], list[VersionRequest]] = {}
        projects: set[tuple[str, str]] = set()
        for request in wanted:
            store = stores.get(request.index_url)
            if store is None:
                store = stores[request.index_url] = self._version_store(request.index_url)
            projects.add((request.index_url, request.project))
            found = store.lookup(request)
            if found is None:
                missing.setdefault((request.index_url, request.project), []).append(request)
            else:
                result[request.key] = found
        with self._lock:
            self.from_cache += len(projects) - len(missing)
        pages = self.pages(
            [
                PageRequest(
                    index_url=index,
                    project=project,
                    satisfied=partial(_answers_all, requests=tuple(requests)),
                    what=_what(requests),
                )
                for (index, project), requests in sorted(missing.items())
            ]
        )
        for (index, project), requests in missing.items():
            page = pages[(index, project)]
            for request in requests:
                files = files_of_version(page, request)
                stores[index].record(request, files)
                result[request.key] = files
        for store in stores.values():
            store.save()
        return result

    def page(self, request: PageRequest) -> Files:
        """One project page: from the cache if it has what is needed, else from the index."""
        cached = self._read_cache(request.index_url, request.project)
        if cached is not None and request.satisfied(cached):
            with self._lock:
                self.from_cache += 1
            return cached
        if self.offline:
            raise IndexQueryError(
                f"--offline: the cache ({self.cache_dir}) has no page of '{request.project}' "
                f"from {display_url(request.index_url)} listing {request.what}; "
                "run once without --offline to fill it"
            )
        files = self._fetch(request.index_url, request.project)
        self._write_cache(request.index_url, request.project, files)
        return files

    # -- network ---------------------------------------------------------------

    def _fetch(self, index_url: str, project: str) -> Files:
        import http.client
        from urllib.error import HTTPError, URLError
        from urllib.request import urlopen

        url = page_url(index_url, project)
        shown_index = display_url(index_url)
        if urlsplit(url).scheme not in ("https", "http"):
            # urllib also opens file://, ftp:// and data: URLs; an index named by a lock
            # must not make p2n read this machine's files.
            raise IndexQueryError(
                f"index {shown_index} for '{project}' is not an https:// URL; "
                "point the lock's package source at an https:// index"
            )
        request = _request(url)
        for attempt in range(self.retries + 1):
            fsread.opaque("asked a package index")
            with self._lock:
                self.requests += 1
            try:
                with urlopen(request, timeout=self.timeout) as response:
                    body = response.read()
                    content_type = response.headers.get("Content-Type", "")
                    final_url = display_url(response.geturl())
                files = parse_page(body, content_type, final_url)
                return {f.filename: f for f in files}
            except HTTPError as exc:
                if exc.code in (404, 410):
                    raise IndexQueryError(
                        f"index {shown_index} has no project '{project}' (HTTP {exc.code}); "
                        "check the package's index (source) in the lock and pyproject.toml"
                    ) from exc
                if exc.code in (401, 403):
                    raise IndexQueryError(
                        f"index {shown_index} refused the page of '{project}' (HTTP {exc.code}): "
                        "it needs credentials; put them in the index URL "
                        "(https://user:token@host/...) or use an index that allows reading"
                    ) from exc
                if exc.code not in RETRY_STATUS or attempt == self.retries:
                    raise IndexQueryError(
                        f"index {shown_index} answered HTTP {exc.code} for '{project}'"
                        f"{' after ' + str(attempt + 1) + ' tries' if attempt else ''}; "
                        "try again later"
                    ) from exc
            except (URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
                if attempt == self.retries:
                    reason = getattr(exc, "reason", None) or exc
                    raise IndexQueryError(
                        f"cannot reach index {shown_index} for '{project}' ({reason}) after "
                        f"{attempt + 1} tries; check the network, or pass --offline to use "
                        "the cache"
                    ) from exc
            except PageError as exc:
                raise IndexQueryError(
                    f"index {shown_index}: the page of '{project}' is not a simple-API page "
                    f"({exc}); is the index URL right?"
                ) from exc
            time.sleep(self.backoff * (2**attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    # -- cache -----------------------------------------------------------------

    def _cache_path(self, index_url: str, project: str) -> Path:
        key = index_key(display_url(index_url))
        return self.cache_dir / "simple" / key / f"{project}.json"

    def _version_store(self, index_url: str) -> VersionStore:
        shown = display_url(index_url)
        return VersionStore(self.cache_dir / "versions" / f"{index_key(shown)}.json", shown)

    def _read_cache(self, index_url: str, project: str) -> Files | None:
        path = self._cache_path(index_url, project)
        try:
            document = json.loads(fsread.read_text(path))
            if document.get("format") != CACHE_FORMAT:
                return None
            files = [IndexFile(*entry) for entry in document["files"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or damaged: fetch again
        return {f.filename: f for f in files}

    def _write_cache(self, index_url: str, project: str, files: Files) -> None:
        path = self._cache_path(index_url, project)
        document = {
            "format": CACHE_FORMAT,
            "index": display_url(index_url),
            "project": project,
            "files": [[f.filename, f.url, f.sha256] for f in files.values()],
        }
        write_cache_file(path, json.dumps(document))


def _answers_all(page: Files, requests: tuple[VersionRequest, ...]) -> bool:
    """Whether a (cached) page holds every requested version's files, agreeing with the lock."""
    return all(answers(r, files_of_version(page, r), complete=True) for r in requests)


def _what(requests: Sequence[VersionRequest]) -> str:
    """What a project's requests need, for the --offline error."""
    names = sorted(name for r in requests for name in (r.files or ()))
    versions = sorted(str(r.version) for r in requests if r.files is None)
    parts = [f"files of version {', '.join(versions)}"] if versions else []
    if names:
        parts.append(shortened(names))
    return "; ".join(parts)


def _request(url: str) -> Request:
    """A GET preferring PEP 691 JSON; credentials in the URL become a Basic header."""
    from urllib.request import Request

    parts = urlsplit(url)
    headers = {"Accept": ACCEPT, "User-Agent": f"p2n/{__version__}"}
    if parts.username is not None or parts.password is not None:
        pair = f"{parts.username or ''}:{parts.password or ''}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        url = display_url(url)
    return Request(url, headers=headers)
