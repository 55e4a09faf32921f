"""``p2n generate`` on poetry.lock and pylock.toml projects, with a loopback package index.

The loopback locks were written by real Poetry 2.5.1, 1.8.5 and 1.1.15 against
``tests/support/index.py`` on port 8765; each test serves the same files on a
free port and rewrites the lock to it. Variants (md5-only hashes, empty file
lists) are derived from those real locks here, by hand, as old locks look.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import socket
import tomllib
from pathlib import Path

import pytest
from packaging.version import Version

from pyproject2nix.check import Freshness, check
from pyproject2nix.errors import InputError
from pyproject2nix.lockfiles import find_locks
from pyproject2nix.poetrylock import content_hashes
from pyproject2nix.render import sri
from tests.helpers import INDEX_FILES, POETRY_FIXTURES, PYLOCK_FIXTURES, run_p2n
from tests.support.index import LoopbackIndex

LOOPBACK = ("loopback-2.1", "loopback-2.0", "loopback-1.1")
BETA = "p2n_beta-2.0.0-py3-none-any.whl"
BETA_SHA256 = hashlib.sha256((INDEX_FILES / BETA).read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _project(tmp_path: Path, fixture: str, index: LoopbackIndex, name: str = "") -> Path:
    target = tmp_path / (name or fixture)
    shutil.copytree(POETRY_FIXTURES / fixture, target)
    for file in ("pyproject.toml", "poetry.lock"):
        path = target / file
        path.write_text(path.read_text().replace("127.0.0.1:8765", f"127.0.0.1:{index.port}"))
    _rehash(target)
    return target


def _rehash(project: Path) -> None:
    """The content-hash `poetry lock` writes after the source URL moved to this test's port."""
    lock = project / "poetry.lock"
    text = lock.read_text()
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    old = tomllib.loads(text)["metadata"]["content-hash"]
    writer = re.search(r"Poetry (\S+)", text.splitlines()[0])
    new = content_hashes(pyproject, Version(writer.group(1)) if writer else None)[-1]
    lock.write_text(text.replace(old, new))


def _edit_lock(project: Path, old: str, new: str) -> None:
    lock = project / "poetry.lock"
    text = lock.read_text()
    assert old in text, old
    lock.write_text(text.replace(old, new, 1))


def _generate(project: Path, *args: str) -> tuple[int, str, str]:
    result = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux", *args)
    return result.returncode, result.stdout, result.stderr


def _refused(project: Path, *args: str) -> str:
    code, _, stderr = _generate(project, *args)
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert not (project / "flake.nix").exists() and not (project / "p2n").exists()
    return lines[0]


@pytest.mark.parametrize("fixture", LOOPBACK)
def test_urls_come_from_the_index_and_then_from_the_cache(
    tmp_path: Path, loopback_index: LoopbackIndex, fixture: str
) -> None:
    project = _project(tmp_path, fixture, loopback_index)
    code, stdout, stderr = _generate(project)
    assert code == 0, stderr
    lock_nix = (project / "p2n" / "lock.nix").read_text()
    files = f"http://127.0.0.1:{loopback_index.port}/files"
    assert f'url = "{files}/p2n_alpha-1.0.0-py3-none-any.whl";' in lock_nix
    assert f'url = "{files}/{BETA}";' in lock_nix and f'hash = "{sri(BETA_SHA256)}";' in lock_nix
    assert "URLs of 2 files from package indexes: 2 requests, 0 pages from cache" in stdout
    # Only what selection chose: the optional p2n-gamma's page is never asked for.
    assert sorted(loopback_index.page_requests()) == ["/simple/p2n-alpha/", "/simple/p2n-beta/"]

    again = _generate(project)
    assert again[0] == 0 and "0 requests, 2 pages from cache" in again[1]
    assert "up to date" in again[1]
    assert len(loopback_index.page_requests()) == 2
    offline = _generate(project, "--offline")
    assert offline[0] == 0 and "up to date" in offline[1]

    extra = _generate(project, "--extra", "speed")
    assert extra[0] == 0 and "1 requests, 2 pages from cache" in extra[1]
    assert "p2n-gamma" in (project / "p2n" / "lock.nix").read_text()


def test_warm_run_reads_no_index_page(tmp_path: Path, loopback_index: LoopbackIndex) -> None:
    project = _project(tmp_path, "loopback-2.1", loopback_index)
    assert _generate(project)[0] == 0
    lock_nix = (project / "p2n" / "lock.nix").read_bytes()
    # The whole pages go; the compact cache of the locked versions answers alone.
    shutil.rmtree(tmp_path / "cache" / "p2n" / "simple")
    (project / "p2n" / "lock.nix").unlink()
    code, stdout, stderr = _generate(project, "--offline")
    assert code == 0, stderr
    assert "0 requests, 2 pages from cache" in stdout
    assert (project / "p2n" / "lock.nix").read_bytes() == lock_nix
    # A lock whose hash differs from the cached one is not answered from the cache.
    _edit_lock(project, BETA_SHA256, "1" * 64)
    code, _, stderr = _generate(project, "--offline")
    assert code == 2 and re.search(r"--offline: .*'p2n-beta'.*p2n_beta-2.0.0", stderr), stderr


def test_every_lock_version_gives_the_same_packages(
    tmp_path: Path, loopback_index: LoopbackIndex
) -> None:
    entries = set()
    for fixture in LOOPBACK:
        project = _project(tmp_path, fixture, loopback_index)
        assert _generate(project)[0] == 0
        text = (project / "p2n" / "lock.nix").read_text()
        entries.add(text[text.index("systems = ") :])
    assert len(entries) == 1


def test_html_only_index_gives_identical_output(
    tmp_path: Path, loopback_index: LoopbackIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    json_project = _project(tmp_path, "loopback-2.1", loopback_index, "json")
    assert _generate(json_project)[0] == 0
    loopback_index.behaviour.html_only = True
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-html"))
    html_project = _project(tmp_path, "loopback-2.1", loopback_index, "html")
    assert _generate(html_project)[0] == 0
    assert (html_project / "p2n" / "lock.nix").read_bytes() == (
        json_project / "p2n" / "lock.nix"
    ).read_bytes()


def test_hash_mismatch_is_refused(tmp_path: Path, loopback_index: LoopbackIndex) -> None:
    loopback_index.behaviour.wrong_hash.add(BETA)
    line = _refused(_project(tmp_path, "loopback-2.1", loopback_index))
    assert re.search(
        rf"poetry.lock: package p2n-beta 2.0.0: {BETA} has sha256 {BETA_SHA256} in the lock "
        rf"but 0{{64}} on {re.escape(loopback_index.url)}",
        line,
    ), line


def test_missing_project_on_the_index(tmp_path: Path, loopback_index: LoopbackIndex) -> None:
    loopback_index.behaviour.missing.add("p2n-beta")
    line = _refused(_project(tmp_path, "loopback-2.0", loopback_index))
    assert f"index {loopback_index.url} has no project 'p2n-beta' (HTTP 404)" in line


def test_index_asking_for_credentials(tmp_path: Path, loopback_index: LoopbackIndex) -> None:
    loopback_index.behaviour.forbidden.add("p2n-alpha")
    line = _refused(_project(tmp_path, "loopback-2.1", loopback_index))
    assert "refused the page of 'p2n-alpha' (HTTP 401)" in line


def test_offline_without_cache(tmp_path: Path, loopback_index: LoopbackIndex) -> None:
    line = _refused(_project(tmp_path, "loopback-2.1", loopback_index), "--offline")
    assert "--offline: the cache" in line and "run once without --offline" in line
    assert loopback_index.requests == []


def test_md5_only_hash_needs_trust(tmp_path: Path, loopback_index: LoopbackIndex) -> None:
    project = _project(tmp_path, "loopback-2.1", loopback_index)
    md5 = hashlib.md5((INDEX_FILES / BETA).read_bytes()).hexdigest()
    _edit_lock(project, f"sha256:{BETA_SHA256}", f"md5:{md5}")
    line = _refused(project)
    assert f"package p2n-beta: {BETA} has no sha256 hash in the lock" in line
    assert "--trust-index-hashes" in line
    assert loopback_index.requests == []  # refused before asking anyone

    code, _, stderr = _generate(project, "--trust-index-hashes")
    assert code == 0, stderr
    assert "sha256 of 1 entries taken from the index" in stderr
    lock_nix = (project / "p2n" / "lock.nix").read_text()
    assert "# WARNING: sha256 hashes taken from the package index, not from the lock" in lock_nix
    assert f"#   p2n-beta 2.0.0: {BETA}\n" in lock_nix
    assert f'hash = "{sri(BETA_SHA256)}";' in lock_nix


def test_empty_file_lists_need_trust(tmp_path: Path, loopback_index: LoopbackIndex) -> None:
    project = _project(tmp_path, "loopback-1.1", loopback_index)
    text = (project / "poetry.lock").read_text()
    start = text.index("p2n-beta = [")
    end = text.index("]\n", start) + 2
    (project / "poetry.lock").write_text(text[:start] + "p2n-beta = []\n" + text[end:])
    line = _refused(project)
    assert "lists no files, so no hashes, for p2n-beta 2.0.0" in line
    code, _, stderr = _generate(project, "--trust-index-hashes")
    assert code == 0, stderr
    lock_nix = (project / "p2n" / "lock.nix").read_text()
    assert "#   p2n-beta 2.0.0: every file (the lock lists none)" in lock_nix
    assert f'hash = "{sri(BETA_SHA256)}";' in lock_nix


def test_group_flags_and_check(tmp_path: Path, loopback_index: LoopbackIndex) -> None:
    project = _project(tmp_path, "loopback-2.1", loopback_index)
    line = _refused(project, "--without", "nope")
    assert "no dependency group 'nope'" in line
    code, _, stderr = _generate(project, "--only", "main", "--trust-index-hashes")
    assert code == 0, stderr
    assert "p2n-alpha" in (project / "p2n" / "lock.nix").read_text()
    fresh = run_p2n("check", "--project", str(project))
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr

    # A dependency added without `poetry lock`: the environment would lack it.
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('python = "^3.9"', 'python = "^3.9"\nsix = "*"')
    )
    stale = run_p2n("check", "--project", str(project))
    assert stale.returncode == 1
    assert "stale: poetry.lock" in stale.stderr
    assert "six is not in the lock; run `poetry lock`" in stale.stderr


def test_pylock_needs_no_index(tmp_path: Path, loopback_index: LoopbackIndex) -> None:
    project = tmp_path / "hello"
    shutil.copytree(PYLOCK_FIXTURES / "hello", project)
    code, stdout, stderr = _generate(project)
    assert code == 0, stderr
    assert "pylock.toml -> CPython 3.11" in stdout and "URLs of" not in stdout
    lock_nix = (project / "p2n" / "lock.nix").read_text()
    assert "https://files.pythonhosted.org/packages/" in lock_nix
    assert 'path = ".";' in lock_nix


def test_lock_files_found_in_order(tmp_path: Path) -> None:
    for name in ("pylock.toml", "poetry.lock", "uv.lock", "pylock.dev.toml"):
        (tmp_path / name).write_text("")
    assert [p.name for p in find_locks(tmp_path)] == [
        "uv.lock",
        "poetry.lock",
        "pylock.toml",
        "pylock.dev.toml",
    ]
    assert [p.name for p in find_locks(tmp_path, Path("poetry.lock"))] == ["poetry.lock"]
    for name in ("pylock.toml", "poetry.lock", "uv.lock"):
        (tmp_path / name).unlink()
    (tmp_path / "pylock.ci.toml").write_text("")
    with pytest.raises(InputError, match=r"several PEP 751 locks .*choose one with --lock"):
        find_locks(tmp_path)
    elsewhere = tmp_path / "sub"
    elsewhere.mkdir()
    (elsewhere / "poetry.lock").write_text("")
    with pytest.raises(InputError, match="must be in the project directory"):
        find_locks(tmp_path, elsewhere / "poetry.lock")


def test_several_formats_say_which_was_read(tmp_path: Path, loopback_index: LoopbackIndex) -> None:
    project = _project(tmp_path, "loopback-2.1", loopback_index)
    shutil.copy(PYLOCK_FIXTURES / "hello" / "pylock.toml", project / "pylock.toml")
    code, stdout, stderr = _generate(project)
    assert code == 0, stderr
    assert "read poetry.lock; also found pylock.toml (choose with --lock)" in stdout


def _check_in_process_without_network(project: Path, monkeypatch: pytest.MonkeyPatch) -> Freshness:
    """``check()`` with every socket connection refused, so any index request would fail."""

    def refuse(*args: object) -> None:
        raise OSError("network blocked by the test")

    with monkeypatch.context() as patched:
        patched.setattr(socket.socket, "connect", refuse)
        patched.setattr(socket.socket, "connect_ex", refuse)
        return check(project)


@pytest.mark.parametrize(
    ("fixture", "args"),
    [("loopback-2.1", ()), ("loopback-1.1-empty", ("--trust-index-hashes",))],
)
def test_check_asks_no_index(
    tmp_path: Path,
    loopback_index: LoopbackIndex,
    monkeypatch: pytest.MonkeyPatch,
    fixture: str,
    args: tuple[str, ...],
) -> None:
    """``p2n check`` answers with the index down and an empty cache (issue 14)."""
    if fixture == "loopback-1.1-empty":  # files the index alone gives (trusted hashes)
        project = _project(tmp_path, "loopback-1.1", loopback_index)
        text = (project / "poetry.lock").read_text()
        start = text.index("p2n-beta = [")
        end = text.index("]\n", start) + 2
        (project / "poetry.lock").write_text(text[:start] + "p2n-beta = []\n" + text[end:])
    else:
        project = _project(tmp_path, fixture, loopback_index)
    code, _, stderr = _generate(project, *args)
    assert code == 0, stderr
    loopback_index.stop()
    empty_cache = tmp_path / "empty-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(empty_cache))
    down = _generate(project, *args)
    assert down[0] == 2 and "cannot reach index" in down[2]  # the index is really gone

    fresh = run_p2n("check", "--project", str(project))
    assert fresh.returncode == 0, fresh.stderr
    assert "fresh" in fresh.stdout
    assert _check_in_process_without_network(project, monkeypatch).fresh
    assert not empty_cache.exists()

    # A lock whose file changed: stale, said without the index (and without --offline).
    lock = (project / "poetry.lock").read_text()
    if BETA_SHA256 in lock:
        _edit_lock(project, BETA_SHA256, "0" * 64)
    else:
        _edit_lock(
            project,
            "p2n-beta = []",
            f'p2n-beta = [{{file = "{BETA}", hash = "sha256:{"0" * 64}"}}]',
        )
    stale = run_p2n("check", "--project", str(project))
    assert stale.returncode == 1, stale.stderr
    assert "stale: p2n/lock.nix" in stale.stderr
    assert "poetry.lock changed since generation" in stale.stderr
    assert "--offline" not in stale.stderr
    verdict = _check_in_process_without_network(project, monkeypatch)
    assert verdict.stale_files == ("p2n/lock.nix",)
    assert verdict.reasons == ("poetry.lock changed since generation",)
