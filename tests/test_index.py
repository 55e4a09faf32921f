"""The simple-API client against a loopback index: formats, cache, retries, errors."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from pyproject2nix.errors import IndexQueryError
from pyproject2nix.index.client import IndexClient, PageRequest, display_url
from pyproject2nix.index.simple import parse_html, parse_json, parse_page
from pyproject2nix.index.versions import VersionRequest
from tests.helpers import INDEX_FILES
from tests.support.index import LoopbackIndex

BETA = "p2n_beta-2.0.0-py3-none-any.whl"
BETA_SHA256 = hashlib.sha256((INDEX_FILES / BETA).read_bytes()).hexdigest()


def _request(index: LoopbackIndex, project: str, *names: str) -> PageRequest:
    wanted = frozenset(names)
    return PageRequest(index.url, project, lambda files: wanted <= files.keys(), ", ".join(names))


def _client(tmp_path: Path, **options: Any) -> IndexClient:
    return IndexClient(tmp_path / "cache", backoff=0.0, **options)


def test_json_page_with_relative_urls() -> None:
    body = (
        b'{"meta": {"api-version": "1.1"}, "files": ['
        b'{"filename": "a-1-py3-none-any.whl", "url": "../../f/a-1-py3-none-any.whl#x",'
        b' "hashes": {"sha256": "' + b"A" * 64 + b'"}},'
        b'{"filename": "a-1.tar.gz", "url": "https://cdn/a-1.tar.gz", "hashes": {"md5": "x"}}]}'
    )
    files = parse_json(body, "https://idx/simple/a/")
    assert [(f.filename, f.url, f.sha256) for f in files] == [
        ("a-1-py3-none-any.whl", "https://idx/f/a-1-py3-none-any.whl", "a" * 64),
        ("a-1.tar.gz", "https://cdn/a-1.tar.gz", ""),
    ]


def test_html_page_with_fragments_and_base() -> None:
    html = (
        '<html><head><base href="https://files.example/root/"></head><body>'
        f'<a href="a-1-py3-none-any.whl#sha256={"b" * 64}" data-requires-python="&gt;=3.8">'
        "a-1-py3-none-any.whl</a>"
        '<a href="/abs/a-1.zip#md5=123">a-1.zip</a></body></html>'
    )
    files = parse_html(html, "https://idx/simple/a/")
    assert [(f.filename, f.url, f.sha256) for f in files] == [
        ("a-1-py3-none-any.whl", "https://files.example/root/a-1-py3-none-any.whl", "b" * 64),
        ("a-1.zip", "https://files.example/abs/a-1.zip", ""),
    ]


def test_unknown_content_type_is_an_error() -> None:
    with pytest.raises(ValueError, match="unexpected content type"):
        parse_page(b"{}", "application/octet-stream", "https://idx/simple/a/")


def test_credentials_never_shown() -> None:
    assert display_url("https://user:secret@idx.example:8443/simple") == (
        "https://idx.example:8443/simple"
    )


def test_json_page_is_used_and_cached(loopback_index: LoopbackIndex, tmp_path: Path) -> None:
    client = _client(tmp_path)
    files = client.page(_request(loopback_index, "p2n-beta", BETA))
    assert files[BETA].url == f"http://127.0.0.1:{loopback_index.port}/files/{BETA}"
    assert files[BETA].sha256 == BETA_SHA256
    assert (client.requests, client.from_cache) == (1, 0)

    again = _client(tmp_path)  # a new run, same cache directory
    assert again.page(_request(loopback_index, "p2n-beta", BETA)) == files
    assert (again.requests, again.from_cache) == (0, 1)
    assert len(loopback_index.page_requests()) == 1


def test_cached_page_without_the_needed_file_is_fetched_again(
    loopback_index: LoopbackIndex, tmp_path: Path
) -> None:
    _client(tmp_path).page(_request(loopback_index, "p2n-beta", BETA))
    client = _client(tmp_path)
    client.page(_request(loopback_index, "p2n-beta", "p2n_beta-3.0.0-py3-none-any.whl"))
    assert client.requests == 1


def test_html_fallback_gives_the_same_files(loopback_index: LoopbackIndex, tmp_path: Path) -> None:
    json_files = _client(tmp_path / "a").page(_request(loopback_index, "p2n-beta", BETA))
    loopback_index.behaviour.html_only = True
    html_files = _client(tmp_path / "b").page(_request(loopback_index, "p2n-beta", BETA))
    assert html_files == json_files


def test_offline_uses_the_cache_and_names_what_is_missing(
    loopback_index: LoopbackIndex, tmp_path: Path
) -> None:
    with pytest.raises(IndexQueryError, match=r"--offline: .*'p2n-beta'.* run once without"):
        _client(tmp_path, offline=True).page(_request(loopback_index, "p2n-beta", BETA))
    assert loopback_index.page_requests() == []
    _client(tmp_path).page(_request(loopback_index, "p2n-beta", BETA))
    offline = _client(tmp_path, offline=True)
    assert BETA in offline.page(_request(loopback_index, "p2n-beta", BETA))
    assert offline.requests == 0


def test_404_names_index_and_project(loopback_index: LoopbackIndex, tmp_path: Path) -> None:
    loopback_index.behaviour.missing.add("p2n-beta")
    with pytest.raises(IndexQueryError) as caught:
        _client(tmp_path).page(_request(loopback_index, "p2n-beta", BETA))
    message = str(caught.value)
    assert loopback_index.url in message and "'p2n-beta'" in message and "404" in message


def test_authentication_failure_is_not_retried(
    loopback_index: LoopbackIndex, tmp_path: Path
) -> None:
    loopback_index.behaviour.forbidden.add("p2n-beta")
    client = _client(tmp_path)
    with pytest.raises(IndexQueryError, match=r"refused .*'p2n-beta' \(HTTP 401\).*credentials"):
        client.page(_request(loopback_index, "p2n-beta", BETA))
    assert client.requests == 1


def test_transient_errors_are_retried(loopback_index: LoopbackIndex, tmp_path: Path) -> None:
    loopback_index.behaviour.flaky["p2n-beta"] = 2
    client = _client(tmp_path)
    assert BETA in client.page(_request(loopback_index, "p2n-beta", BETA))
    assert client.requests == 3


def test_persistent_errors_give_up(loopback_index: LoopbackIndex, tmp_path: Path) -> None:
    loopback_index.behaviour.flaky["p2n-beta"] = 10
    client = _client(tmp_path, retries=2)
    with pytest.raises(IndexQueryError, match=r"HTTP 503 for 'p2n-beta' after 3 tries"):
        client.page(_request(loopback_index, "p2n-beta", BETA))


def test_unreachable_index(tmp_path: Path) -> None:
    client = _client(tmp_path, retries=1, timeout=2.0)
    request = PageRequest("http://127.0.0.1:9/simple", "x", lambda files: False, "x-1.whl")
    with pytest.raises(IndexQueryError, match=r"cannot reach index http://127.0.0.1:9/simple"):
        client.page(request)


def test_many_pages_concurrently_with_progress(
    loopback_index: LoopbackIndex, tmp_path: Path
) -> None:
    seen: list[tuple[int, int]] = []
    client = _client(
        tmp_path, max_workers=3, progress=lambda done, total: seen.append((done, total))
    )
    projects = ["p2n-alpha", "p2n-beta", "p2n-gamma"]
    pages = client.pages([_request(loopback_index, p) for p in projects])
    assert sorted(project for _, project in pages) == projects
    assert seen[-1] == (3, 3) and len(seen) == 3


def test_first_error_stops_the_batch(loopback_index: LoopbackIndex, tmp_path: Path) -> None:
    loopback_index.behaviour.missing.add("p2n-gamma")
    with pytest.raises(IndexQueryError, match="p2n-gamma"):
        _client(tmp_path).pages(
            [_request(loopback_index, p) for p in ("p2n-alpha", "p2n-beta", "p2n-gamma")]
        )


def test_damaged_cache_is_ignored(loopback_index: LoopbackIndex, tmp_path: Path) -> None:
    client = _client(tmp_path)
    client.page(_request(loopback_index, "p2n-beta", BETA))
    for cached in (tmp_path / "cache").rglob("*.json"):
        cached.write_text("{not json")
    again = _client(tmp_path)
    assert BETA in again.page(_request(loopback_index, "p2n-beta", BETA))
    assert again.requests == 1


# -- the compact cache of locked versions (index/versions.py) -------------------

BETA_SDIST = "p2n_beta-2.0.0.tar.gz"


def _version(
    index: LoopbackIndex, files: dict[str, str] | None, version: str = "2.0.0"
) -> VersionRequest:
    return VersionRequest(index.url, "p2n-beta", Version(version), files)


def _pages_cache(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "simple"


def test_warm_run_reads_only_the_versions_file(
    loopback_index: LoopbackIndex, tmp_path: Path
) -> None:
    request = _version(loopback_index, {BETA: BETA_SHA256})
    first = _client(tmp_path).version_files([request])
    assert list(first[request.key]) == [BETA]
    shutil.rmtree(_pages_cache(tmp_path))  # no whole page to fall back on
    again = _client(tmp_path, offline=True)
    assert again.version_files([request]) == first
    assert (again.requests, again.from_cache) == (0, 1)
    (stored,) = (tmp_path / "cache" / "versions").glob("*.json")
    # Only the file asked for is kept: not the page's other versions, not the sdist.
    assert BETA_SDIST not in stored.read_text() and "1.0.0" not in stored.read_text()


def test_a_new_locked_version_is_a_miss(loopback_index: LoopbackIndex, tmp_path: Path) -> None:
    _client(tmp_path).version_files([_version(loopback_index, {BETA: BETA_SHA256})])
    shutil.rmtree(_pages_cache(tmp_path))
    older = "p2n_beta-1.0.0-py3-none-any.whl"
    client = _client(tmp_path)
    request = _version(loopback_index, {older: ""}, "1.0")  # the lock moved to 1.0
    assert older in client.version_files([request])[request.key]
    assert client.requests == 1
    shutil.rmtree(_pages_cache(tmp_path))
    with pytest.raises(IndexQueryError, match=r"--offline: .*'p2n-beta'.*p2n_beta-2.0.0.tar.gz"):
        _client(tmp_path, offline=True).version_files([_version(loopback_index, {BETA_SDIST: ""})])


def test_a_cached_file_with_another_hash_is_asked_again(
    loopback_index: LoopbackIndex, tmp_path: Path
) -> None:
    loopback_index.behaviour.wrong_hash.add(BETA)
    request = _version(loopback_index, {BETA: BETA_SHA256})
    assert _client(tmp_path).version_files([request])[request.key][BETA].sha256 == "0" * 64
    # The index is fixed: the cached (wrong) hash must not stand for the lock's.
    loopback_index.behaviour.wrong_hash.clear()
    client = _client(tmp_path)
    assert client.version_files([request])[request.key][BETA].sha256 == BETA_SHA256
    assert (client.requests, client.from_cache) == (1, 0)
    again = _client(tmp_path)
    assert again.version_files([request])[request.key][BETA].sha256 == BETA_SHA256
    assert (again.requests, again.from_cache) == (0, 1)


def test_a_lock_without_hashes_needs_the_index_hash(
    loopback_index: LoopbackIndex, tmp_path: Path
) -> None:
    loopback_index.behaviour.no_hash = True
    request = _version(loopback_index, {BETA: ""})
    assert _client(tmp_path).version_files([request])[request.key][BETA].sha256 == ""
    loopback_index.behaviour.no_hash = False
    client = _client(tmp_path)  # a cached file without a hash cannot supply one
    assert client.version_files([request])[request.key][BETA].sha256 == BETA_SHA256
    assert client.requests == 1


def test_every_file_of_a_version_is_cached_complete(
    loopback_index: LoopbackIndex, tmp_path: Path
) -> None:
    named = _version(loopback_index, {BETA: BETA_SHA256})
    _client(tmp_path).version_files([named])
    shutil.rmtree(_pages_cache(tmp_path))
    everything = _version(loopback_index, None, "2")  # 2 and 2.0.0 are one version
    client = _client(tmp_path)
    assert sorted(client.version_files([everything])[everything.key]) == [BETA, BETA_SDIST]
    # The named file alone did not say it was all of them: the page was fetched.
    assert (client.requests, client.from_cache) == (1, 0)
    shutil.rmtree(_pages_cache(tmp_path))
    again = _client(tmp_path, offline=True)
    assert sorted(again.version_files([everything])[everything.key]) == [BETA, BETA_SDIST]
    assert again.version_files([named])[named.key][BETA].sha256 == BETA_SHA256


def test_damaged_versions_file_is_ignored(loopback_index: LoopbackIndex, tmp_path: Path) -> None:
    request = _version(loopback_index, {BETA: BETA_SHA256})
    _client(tmp_path).version_files([request])
    (stored,) = (tmp_path / "cache" / "versions").glob("*.json")
    document = json.loads(stored.read_text())
    wrong_entry = json.loads(stored.read_text())
    wrong_entry["projects"]["p2n-beta"]["2"][1][BETA] = [1, 2]
    damaged = ["{not json", json.dumps({**document, "format": 0}), json.dumps(wrong_entry)]
    for text in damaged:
        stored.write_text(text)
        shutil.rmtree(_pages_cache(tmp_path))
        client = _client(tmp_path)
        assert client.version_files([request])[request.key][BETA].sha256 == BETA_SHA256
        assert (client.requests, client.from_cache) == (1, 0)
        assert json.loads(stored.read_text()) == document  # written again whole
