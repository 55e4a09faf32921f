"""Big TOML files are parsed once per content: the cache of tomlfile.load_toml."""

from __future__ import annotations

import marshal
import shutil
from pathlib import Path

import pytest

from pyproject2nix.errors import InputError
from pyproject2nix.tomlfile import load_toml
from pyproject2nix.uvlock import read_uv_lock
from tests.helpers import UV_FIXTURES

LARGE = UV_FIXTURES / "large" / "uv.lock"


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


def _cached(cache_home: Path) -> list[Path]:
    directory = cache_home / "p2n" / "toml"
    return sorted(directory.glob("*.marshal")) if directory.is_dir() else []


def test_big_file_is_parsed_once_and_read_from_the_cache(cache_home: Path, tmp_path: Path) -> None:
    lock = tmp_path / "uv.lock"
    shutil.copy(LARGE, lock)
    first = load_toml(lock)
    (entry,) = _cached(cache_home)
    # The same bytes give what the cache holds, not a new parse: change the entry.
    entry.write_bytes(marshal.dumps({"from": "cache"}))
    assert load_toml(lock) == {"from": "cache"}
    entry.unlink()
    assert load_toml(lock) == first
    assert read_uv_lock(lock).packages == read_uv_lock(LARGE).packages


def test_changed_content_is_parsed_again(cache_home: Path, tmp_path: Path) -> None:
    lock = tmp_path / "uv.lock"
    shutil.copy(LARGE, lock)
    load_toml(lock)
    lock.write_text(LARGE.read_text().replace("revision = 5", "revision = 3", 1) + "\n")
    changed = load_toml(lock)
    assert (changed["revision"], load_toml(LARGE)["revision"]) == (3, 5)
    assert len(_cached(cache_home)) == 2  # the copy and LARGE share their bytes


def test_broken_cache_entry_falls_back_to_parsing(cache_home: Path, tmp_path: Path) -> None:
    lock = tmp_path / "uv.lock"
    shutil.copy(LARGE, lock)
    expected = load_toml(lock)
    (entry,) = _cached(cache_home)
    entry.write_bytes(b"\x00 not marshal")
    assert load_toml(lock) == expected


def test_small_files_dates_and_syntax_errors_are_not_cached(
    cache_home: Path, tmp_path: Path
) -> None:
    small = tmp_path / "pyproject.toml"
    small.write_text('[project]\nname = "x"\n')
    assert load_toml(small) == {"project": {"name": "x"}}
    dated = tmp_path / "dated.toml"
    dated.write_text("when = 2024-01-01T00:00:00Z\n" + "# padding\n" * 8000)
    assert load_toml(dated)["when"].year == 2024
    broken = tmp_path / "broken.toml"
    broken.write_text("# padding\n" * 8000 + "key = \n")
    with pytest.raises(InputError, match="malformed TOML"):
        load_toml(broken)
    assert _cached(cache_home) == []


def test_unwritable_cache_is_skipped(cache_home: Path, tmp_path: Path) -> None:
    cache_home.mkdir()
    (cache_home / "p2n").write_text("a file where the cache directory would be")
    assert load_toml(LARGE)["version"] == 1
