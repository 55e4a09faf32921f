"""A loopback view of PyPI as it was on a date, so Poetry locks are stable.

uv has ``--exclude-newer``; Poetry has nothing like it. Poetry reads PyPI
through two endpoints: the simple API (PEP 691 JSON, ``/simple/<name>/``) for
the versions and files, and the per-release JSON API
(``/pypi/<name>/<version>/json``) for dependencies. This server answers both
from PyPI's simple API, dropping every file uploaded after the cutoff (PEP 700
``upload-time``), so a release made later does not exist for the resolver.

The per-release JSON API is not reachable from these machines (404), so the
release document is made from the simple API and the first wheel's PEP 658
metadata (PyPI fills ``requires_dist`` from the first upload too); without a
wheel ``requires_dist`` is null and Poetry reads the sdist itself, as it does
against PyPI. URLs still point at PyPI's file
host, so the lock Poetry writes is the one it would write against pypi.org
(PyPI packages carry no ``[package.source]`` in poetry.lock).

Poetry is pointed here by running it through :data:`POETRY_MAIN`, which
changes only the default URL of Poetry's PyPI repository.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from email.message import Message
from email.parser import Parser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)

PYPI_SIMPLE = "https://pypi.org/simple"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"

POETRY_MAIN = """\
import sys
import poetry.repositories.pypi_repository as pypi_repository
_init = pypi_repository.PyPiRepository.__init__
def _init_at_proxy(self, url=sys.argv.pop(1), *args, **kwargs):
    _init(self, url, *args, **kwargs)
pypi_repository.PyPiRepository.__init__ = _init_at_proxy
from poetry.console.application import main
sys.exit(main())
"""
"""``python -c POETRY_MAIN PROXY_URL <poetry arguments>``: Poetry with PyPI at PROXY_URL."""


def _version_of(filename: str) -> str | None:
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


def _core_metadata(files: list[dict[str, Any]]) -> Message | None:
    """The core metadata of the release's first wheel (PEP 658 ``<url>.metadata``).

    PyPI serves it for every wheel, though this machine's view of the simple API
    does not always announce it (no ``core-metadata`` key): ask for it anyway.
    None for an sdist-only release, as the JSON API leaves it empty there too.
    """
    for f in files:
        if not f["filename"].endswith(".whl"):
            continue
        try:
            with urllib.request.urlopen(f["url"] + ".metadata", timeout=60) as response:
                return Parser().parsestr(response.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as error:
            if error.code != 404:
                raise
            return None
    return None


class PyPIBefore:
    """The server; ``url`` is the base URL Poetry's PyPI repository takes."""

    def __init__(self, cutoff: datetime) -> None:
        self.cutoff = cutoff
        self._pages: dict[str, dict[str, Any] | None] = {}
        self._by_version: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.answer(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def page(self, name: str) -> dict[str, Any] | None:
        """PyPI's simple page of ``name`` without files uploaded after the cutoff."""
        name = canonicalize_name(name)
        with self._lock:
            if name in self._pages:
                return self._pages[name]
        request = urllib.request.Request(f"{PYPI_SIMPLE}/{name}/", headers={"Accept": JSON_TYPE})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                upstream: dict[str, Any] = json.load(response)
        except urllib.error.HTTPError as error:
            if error.code != 404:
                raise
            page = None
        else:
            files = [
                f
                for f in upstream["files"]
                if "upload-time" in f
                and datetime.fromisoformat(f["upload-time"].replace("Z", "+00:00")) <= self.cutoff
            ]
            by_version: dict[str, list[dict[str, Any]]] = {}
            for f in files:
                if (v := _version_of(f["filename"])) is not None:
                    by_version.setdefault(canonicalize_version(v), []).append(f)
            page = {**upstream, "files": files, "versions": sorted(by_version)}
            with self._lock:
                self._by_version[name] = by_version
        with self._lock:
            self._pages[name] = page
        return page

    def release(self, name: str, version: str) -> dict[str, Any] | None:
        """A per-release JSON document (``/pypi/NAME/VERSION/json``) made from the simple page."""
        page = self.page(name)
        if page is None:
            return None
        by_version = self._by_version[canonicalize_name(name)]
        files = by_version.get(canonicalize_version(version), [])
        if not files:
            return None
        urls = [
            {
                "filename": f["filename"],
                "packagetype": "bdist_wheel" if f["filename"].endswith(".whl") else "sdist",
                "digests": {"sha256": f["hashes"]["sha256"]},
                "url": f["url"],
                "size": f.get("size"),
                "upload_time_iso_8601": f["upload-time"],
                "yanked": bool(f.get("yanked")),
                "yanked_reason": f["yanked"] if isinstance(f.get("yanked"), str) else None,
                "requires_python": f.get("requires-python"),
            }
            for f in files
        ]
        requires_python = next(
            (f["requires-python"] for f in files if f.get("requires-python")), None
        )
        yanked = all(u["yanked"] for u in urls)
        metadata = _core_metadata(files)
        info = {
            "name": page.get("name", name),
            "version": version,
            "summary": metadata.get("Summary", "") if metadata else "",
            # None: Poetry reads the files themselves, as for a release PyPI lacks data for
            "requires_dist": metadata.get_all("Requires-Dist", []) if metadata else None,
            "requires_python": requires_python,
            "yanked": yanked,
            "yanked_reason": next((u["yanked_reason"] for u in urls if u["yanked_reason"]), None),
        }
        return {"info": info, "urls": urls}

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        parts = [p for p in handler.path.split("?")[0].split("/") if p]
        body: dict[str, Any] | None = None
        content_type = "application/json"
        if len(parts) == 2 and parts[0] == "simple":
            body = self.page(parts[1])
            content_type = JSON_TYPE
        elif len(parts) == 4 and parts[0] == "pypi" and parts[3] == "json":
            body = self.release(parts[1], parts[2])
        if body is None:
            handler.send_error(404)
            return
        data = json.dumps(body).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


@contextmanager
def pypi_before(cutoff: datetime) -> Iterator[PyPIBefore]:
    """Serve :class:`PyPIBefore` on a free loopback port for the duration of the block."""
    proxy = PyPIBefore(cutoff)
    thread = threading.Thread(target=proxy.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.server.shutdown()
        proxy.server.server_close()


def main() -> None:
    """``python -m tests.corpus.pypi_before CUTOFF``: print the URL, serve until stdin closes.

    Run in a process of its own so that parsing PyPI's large pages does not
    compete for one interpreter's lock with the corpus runner's other threads.
    """
    import sys

    cutoff = datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00"))
    with pypi_before(cutoff) as proxy:
        print(proxy.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
