"""The simple repository API: PEP 691 JSON pages and PEP 503 HTML pages.

Both give, per project, a list of files with a URL (possibly relative to the
page) and hashes (JSON: ``hashes``; HTML: the URL fragment ``#sha256=…``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPES = ("application/vnd.pypi.simple.v1+html", "text/html")
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"


class PageError(ValueError):
    """A page that is neither valid simple-API JSON nor HTML."""


@dataclass(frozen=True)
class IndexFile:
    """One file an index lists for a project."""

    filename: str
    url: str
    """Absolute, without fragment."""
    sha256: str
    """Lower-case hex; "" when the index gives none."""


def page_url(index_url: str, project: str) -> str:
    """``https://index/simple/<project>/`` (``project`` already normalised)."""
    return f"{index_url.rstrip('/')}/{project}/"


def parse_page(body: bytes, content_type: str, url: str) -> list[IndexFile]:
    """Files of a project page, whichever format the index answered in."""
    media = content_type.split(";")[0].strip().lower()
    if media in (JSON_TYPE, "application/json"):
        return parse_json(body, url)
    if media in HTML_TYPES or not media:
        return parse_html(body.decode("utf-8", errors="replace"), url)
    raise PageError(f"unexpected content type {media!r}")


def parse_json(body: bytes, url: str) -> list[IndexFile]:
    """PEP 691: ``{"files": [{"filename", "url", "hashes": {"sha256"}}]}``."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PageError(f"not JSON ({exc})") from exc
    files = document.get("files") if isinstance(document, dict) else None
    if not isinstance(files, list):
        raise PageError("no 'files' list")
    result = []
    for entry in files:
        if not isinstance(entry, dict):
            raise PageError("a 'files' entry is not an object")
        filename, href = entry.get("filename"), entry.get("url")
        hashes = entry.get("hashes") or {}
        if not isinstance(filename, str) or not isinstance(href, str):
            raise PageError("a file without 'filename' or 'url'")
        sha256 = hashes.get("sha256", "") if isinstance(hashes, dict) else ""
        result.append(IndexFile(filename, urldefrag(urljoin(url, href)).url, _hex(sha256)))
    return result


def parse_html(text: str, url: str) -> list[IndexFile]:
    """PEP 503: one ``<a href="URL#sha256=…">filename</a>`` per file."""
    from .anchors import Anchors  # HTML pages are the fallback: most indexes answer JSON

    parser = Anchors()
    parser.feed(text)
    parser.close()
    base = urljoin(url, parser.base) if parser.base else url
    result = []
    for href, label in parser.anchors:
        absolute, fragment = urldefrag(urljoin(base, href))
        algorithm, _, digest = fragment.partition("=")
        filename = label.strip() or unquote(urlsplit(absolute).path.rsplit("/", 1)[-1])
        result.append(IndexFile(filename, absolute, _hex(digest) if algorithm == "sha256" else ""))
    return result


def _hex(value: object) -> str:
    if not isinstance(value, str):
        return ""
    digest = value.strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        return ""
    return digest
