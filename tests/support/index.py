"""A loopback package index for tests: PEP 503 HTML and PEP 691 JSON over http://127.0.0.1.

Serves the wheels of a directory (``tests/fixtures/index/files``) as a simple
repository at ``/simple/<project>/`` and the files at ``/files/<name>``, so the
URL resolver can be tested without the internet: content negotiation, relative
URLs, 404, authentication failures, transient errors and request counting.

Also used (with a fixed port) to make the fixture locks with real Poetry:
``python -m tests.support.index DIR PORT`` serves until interrupted.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def _project_of(filename: str) -> str:
    if filename.endswith(".whl"):
        return canonicalize_name(parse_wheel_filename(filename)[0])
    return canonicalize_name(parse_sdist_filename(filename)[0])


@dataclass
class IndexBehaviour:
    """How the index misbehaves; tests change it between runs."""

    html_only: bool = False
    missing: set[str] = field(default_factory=set)
    """Projects answered with 404."""
    forbidden: set[str] = field(default_factory=set)
    """Projects answered with 401."""
    flaky: Counter[str] = field(default_factory=Counter)
    """Projects answered with 503 this many more times before succeeding."""
    wrong_hash: set[str] = field(default_factory=set)
    """File names whose listed sha256 is wrong."""
    no_hash: bool = False
    """List files without any hash."""


class LoopbackIndex:
    """The server; ``url`` is its simple-API root (``http://127.0.0.1:PORT/simple``)."""

    def __init__(self, files: Path, port: int = 0) -> None:
        self.files = files
        self.behaviour = IndexBehaviour()
        self.requests: list[str] = []
        index = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                index.requests.append(self.path)
                index.answer(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/simple"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> LoopbackIndex:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def page_requests(self) -> list[str]:
        """The project pages asked for so far (not file downloads)."""
        return [r for r in self.requests if r.startswith("/simple/")]

    def _files_of(self, project: str) -> list[Path]:
        return sorted(p for p in self.files.iterdir() if _project_of(p.name) == project)

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?")[0]
        if path.startswith("/files/"):
            self._send_file(handler, path.removeprefix("/files/"))
            return
        parts = [p for p in path.split("/") if p]
        if len(parts) != 2 or parts[0] != "simple":
            handler.send_error(404)
            return
        project = canonicalize_name(parts[1])
        behaviour = self.behaviour
        if project in behaviour.missing or not self._files_of(project):
            handler.send_error(404)
            return
        if project in behaviour.forbidden:
            handler.send_error(401)
            return
        if behaviour.flaky[project] > 0:
            behaviour.flaky[project] -= 1
            handler.send_error(503)
            return
        wants_json = JSON_TYPE in (handler.headers.get("Accept") or "")
        if wants_json and not behaviour.html_only:
            body = self._json(project).encode()
            content_type = JSON_TYPE
        else:
            body = self._html(project).encode()
            content_type = "text/html; charset=utf-8"
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _sha256(self, path: Path) -> str:
        if path.name in self.behaviour.wrong_hash:
            return "0" * 64
        return hashlib.sha256(path.read_bytes()).hexdigest()

    def _json(self, project: str) -> str:
        files = []
        for path in self._files_of(project):
            hashes = {} if self.behaviour.no_hash else {"sha256": self._sha256(path)}
            # Relative URLs, as PEP 691 allows: the resolver must make them absolute.
            files.append(
                {"filename": path.name, "url": f"../../files/{path.name}", "hashes": hashes}
            )
        return json.dumps({"meta": {"api-version": "1.1"}, "name": project, "files": files})

    def _html(self, project: str) -> str:
        links = []
        for path in self._files_of(project):
            fragment = "" if self.behaviour.no_hash else f"#sha256={self._sha256(path)}"
            links.append(f'<a href="/files/{path.name}{fragment}">{path.name}</a><br/>')
        return (
            f"<!DOCTYPE html><html><body><h1>Links for {project}</h1>"
            + "".join(links)
            + "</body></html>"
        )

    def _send_file(self, handler: BaseHTTPRequestHandler, name: str) -> None:
        path = self.files / name
        if "/" in name or not path.is_file():
            handler.send_error(404)
            return
        body = path.read_bytes()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


@contextmanager
def serving(files: Path, port: int = 0) -> Iterator[LoopbackIndex]:
    """A started index, stopped afterwards."""
    index = LoopbackIndex(files, port).start()
    try:
        yield index
    finally:
        index.stop()


if __name__ == "__main__":
    directory, port = Path(sys.argv[1]), int(sys.argv[2])
    with serving(directory, port) as running:
        print(f"serving {directory} at {running.url}", flush=True)
        threading.Event().wait()
