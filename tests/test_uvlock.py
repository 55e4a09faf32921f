"""The uv.lock reader on real locks made by uv, and on broken ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from pyproject2nix.errors import InputError
from pyproject2nix.model import SourceKind
from pyproject2nix.uvlock import read_uv_lock
from tests.helpers import EXAMPLE, UV_FIXTURES


def test_example_lock_roots_groups_and_extras() -> None:
    lock = read_uv_lock(EXAMPLE / "uv.lock", "hello-p2n")
    assert lock.root_names == ("hello-p2n",)
    assert str(lock.requires_python) == ">=3.11"
    (root,) = lock.by_name(canonicalize_name("hello-p2n"))
    assert root.source.kind is SourceKind.EDITABLE
    assert [d.name for d in root.group("dev")] == ["iniconfig"]
    assert [d.name for d in root.extra("yaml")] == ["pyyaml"]
    colorama = next(d for d in root.dependencies if d.name == "colorama")
    assert colorama.marker is not None
    assert str(colorama.marker) == 'sys_platform == "win32"'
    (rich,) = lock.by_name(canonicalize_name("rich"))
    assert rich.sdist is not None and rich.sdist.filename.endswith(".tar.gz")
    assert all(len(w.sha256) == 64 for w in rich.wheels)


def test_lock_without_revision_from_uv_0_4() -> None:
    text = (UV_FIXTURES / "old-uv" / "uv.lock").read_text()
    assert "revision" not in text.split("[[package]]")[0]
    lock = read_uv_lock(UV_FIXTURES / "old-uv" / "uv.lock", "hello-p2n")
    assert "rich" in {p.name for p in lock.packages}


def test_forked_package_keeps_every_version_with_its_markers() -> None:
    lock = read_uv_lock(UV_FIXTURES / "forks" / "uv.lock", "forks")
    numpys = lock.by_name(canonicalize_name("numpy"))
    assert sorted(p.version for p in numpys if p.version) == [
        Version("2.0.2"),
        Version("2.4.6"),
        Version("2.5.5"),
    ]
    assert all(p.resolution_markers for p in numpys)
    (root,) = lock.by_name(canonicalize_name("forks"))
    assert root.source.kind is SourceKind.VIRTUAL
    edges = [d for d in root.dependencies if d.name == "numpy"]
    assert {str(d.version) for d in edges} == {"2.0.2", "2.4.6", "2.5.5"}


def test_large_real_lock_parses() -> None:
    lock = read_uv_lock(UV_FIXTURES / "large" / "uv.lock", "large")
    assert len(lock.packages) > 300


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "uv.lock"
    path.write_text(text)
    return path


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "version = 1\n[[package]\n")
    with pytest.raises(InputError, match=r"uv\.lock:2:10: malformed TOML: .*: '\[\[package\]'"):
        read_uv_lock(path)


def test_unknown_lock_version(tmp_path: Path) -> None:
    path = _write(tmp_path, "version = 2\n")
    with pytest.raises(InputError, match=r"uv\.lock version 2 is not supported"):
        read_uv_lock(path)


def test_error_names_the_key_path(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'version = 1\n[[package]]\nname = "a"\nversion = "1"\n'
        'source = { registry = "https://pypi.org/simple" }\n'
        'wheels = [{ url = "https://x/a-1-py3-none-any.whl", hash = 5 }]\n',
    )
    with pytest.raises(InputError, match=r"package\[0\]\.wheels\[0\]\.hash: expected a string"):
        read_uv_lock(path)


def test_invalid_wheel_name_and_marker(tmp_path: Path) -> None:
    base = 'version = 1\n[[package]]\nname = "a"\nversion = "1"\nsource = { registry = "r" }\n'
    bad_wheel = _write(tmp_path, base + 'wheels = [{ url = "https://x/a.whl" }]\n')
    with pytest.raises(InputError, match="not a valid wheel file name"):
        read_uv_lock(bad_wheel)
    bad_marker = _write(
        tmp_path, base + 'dependencies = [{ name = "b", marker = "python_version >< 3" }]\n'
    )
    expected = r"package\[0\]\.dependencies\[0\]\.marker: invalid environment marker"
    with pytest.raises(InputError, match=expected):
        read_uv_lock(bad_marker)


def test_unknown_source_kind(tmp_path: Path) -> None:
    path = _write(tmp_path, 'version = 1\n[[package]]\nname = "a"\nsource = { ftp = "x" }\n')
    with pytest.raises(InputError, match="unknown source type"):
        read_uv_lock(path)
