"""A package index on the loopback interface, for sdists that only tests know.

Builds sdists of fixture sources with ``uv build`` (their backends come from
PyPI), lays them out as a PEP 503 simple index (``/simple/<name>/`` pages
with ``#sha256=`` links, files under ``/files/``) and serves it with
``http.server`` on 127.0.0.1 in a thread. Nix's fetcher and uv both read it
like a real index; p2n accepts plain http only for the loopback interface.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote


def uv() -> str:
    """The uv of the test venv (or PATH)."""
    found = Path(sys.executable).with_name("uv")
    return str(found) if found.is_file() else (shutil.which("uv") or "uv")


def build_sdist(source: Path, out_dir: Path, scratch: Path) -> Path:
    """``uv build --sdist`` of a copy of ``source`` (backends write into the tree)."""
    copy = scratch / source.name
    shutil.copytree(source, copy)
    before = set(out_dir.glob("*")) if out_dir.exists() else set()
    subprocess.run(
        [uv(), "build", "--quiet", "--sdist", "--out-dir", str(out_dir), str(copy)],
        check=True,
        capture_output=True,
    )
    (made,) = {p for p in set(out_dir.glob("*")) - before if p.name.endswith((".tar.gz", ".zip"))}
    return made


def write_simple_index(files: list[Path], root: Path) -> None:
    """``root/simple/<name>/index.html`` and ``root/files/<file>`` for each file.

    Links quote file names, as PyTorch's index does (``torch-2.5.1%2Bcpu-…``).
    """
    (root / "files").mkdir(parents=True, exist_ok=True)
    by_project: dict[str, list[Path]] = {}
    for file in files:
        shutil.copyfile(file, root / "files" / file.name)
        name = re.split(r"-\d", file.name, maxsplit=1)[0]
        by_project.setdefault(re.sub(r"[-_.]+", "-", name).lower(), []).append(file)
    for project, project_files in by_project.items():
        page = root / "simple" / project
        page.mkdir(parents=True)
        links = "".join(
            f'<a href="../../files/{html.escape(quote(f.name))}#sha256='
            f'{hashlib.sha256(f.read_bytes()).hexdigest()}">{html.escape(f.name)}</a>\n'
            for f in project_files
        )
        (page / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1; yields the base URL (``http://127.0.0.1:PORT``)."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
