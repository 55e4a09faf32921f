"""The PEP 751 reader on pylock.toml files written by ``uv export --format pylock.toml``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from packaging.utils import NormalizedName

from pyproject2nix.errors import InputError
from pyproject2nix.model import SourceKind
from pyproject2nix.pylock import is_pylock_name, read_pylock
from pyproject2nix.select import Options, Selection, select
from pyproject2nix.targets import SYSTEMS, Target
from tests.helpers import PYLOCK_FIXTURES


def _versions(selection: Selection) -> dict[str, str]:
    return {p.name: str(p.package.version) for p in selection.packages}


def test_project_directory_package_is_the_root() -> None:
    lock = read_pylock(PYLOCK_FIXTURES / "hello" / "pylock.toml", "hello-p2n")
    assert lock.root_names == ("hello-p2n",)
    root = lock.by_name(lock.root_names[0])[0]
    assert root.source.kind is SourceKind.EDITABLE and root.source.location == "."
    selection = select(lock, Target(SYSTEMS["x86_64-linux"], (3, 11)), Options())
    assert "colorama" not in _versions(selection)  # marker sys_platform == 'win32'
    rich = next(p for p in selection.packages if p.name == "rich")
    assert rich.wheel is not None and rich.wheel.url.startswith("https://files.pythonhosted.org/")
    assert len(rich.wheel.sha256) == 64


def test_markers_pick_one_version_per_target() -> None:
    lock = read_pylock(PYLOCK_FIXTURES / "forks" / "pylock.toml", "forks")
    root = lock.by_name(lock.root_names[0])[0]
    assert root.source.kind is SourceKind.VIRTUAL  # uv exported no project package
    numpy = {
        python: _versions(select(lock, Target(SYSTEMS["x86_64-linux"], python), Options()))["numpy"]
        for python in ((3, 10), (3, 11), (3, 12))
    }
    assert numpy == {(3, 10): "2.0.2", (3, 11): "2.4.6", (3, 12): "2.5.5"}


def _pylock(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pylock.toml"
    path.write_text('lock-version = "1.0"\ncreated-by = "test"\n' + body)
    return path


WHEEL = (
    'wheels = [{{ url = "https://files.example/{name}-1.0-py3-none-any.whl", '
    'hashes = {{ sha256 = "' + "a" * 64 + '" }} }}]\n'
)


def test_extras_and_dependency_groups_in_markers(tmp_path: Path) -> None:
    body = 'extras = ["fast"]\ndependency-groups = ["dev", "docs"]\ndefault-groups = ["dev"]\n'
    for name, marker in [
        ("base", ""),
        ("speed", "'fast' in extras"),
        ("devtool", "'dev' in dependency_groups and sys_platform == 'linux'"),
        ("doctool", "'docs' in dependency_groups"),
        ("nodocs", "'docs' not in dependency_groups"),
    ]:
        body += f'[[packages]]\nname = "{name}"\nversion = "1.0"\n'
        body += f'marker = "{marker}"\n' if marker else ""
        body += 'index = "https://pypi.org/simple"\n' + WHEEL.format(name=name)
    lock = read_pylock(_pylock(tmp_path, body), "app")
    assert lock.default_groups == frozenset({"dev"})
    target = Target(SYSTEMS["x86_64-linux"], (3, 12))

    def names(**options: Any) -> set[NormalizedName]:
        selection = select(lock, target, Options(**options))
        return {p.name for p in selection.packages} - {"app"}

    assert names() == {"base", "devtool", "nodocs"}
    assert names(extras=frozenset({"fast"})) == {"base", "devtool", "nodocs", "speed"}
    assert names(groups=frozenset({"docs"}), no_default_groups=True) == {"base", "doctool"}
    mac = select(lock, Target(SYSTEMS["aarch64-darwin"], (3, 12)), Options())
    assert "devtool" not in {p.name for p in mac.packages}


def test_validation_errors_carry_the_key_path(tmp_path: Path) -> None:
    path = _pylock(tmp_path, '[[packages]]\nname = "x"\nversion = "1"\nwheels = [{ url = 5 }]\n')
    with pytest.raises(InputError, match=r"pylock.toml: packages\[0\].wheels\[0\].url: "):
        read_pylock(path)


def test_unsupported_version(tmp_path: Path) -> None:
    path = tmp_path / "pylock.toml"
    path.write_text('lock-version = "2.0"\ncreated-by = "test"\npackages = []\n')
    with pytest.raises(InputError, match=r"lock-version: .*not supported"):
        read_pylock(path)


def test_pylock_file_names() -> None:
    assert is_pylock_name("pylock.toml") and is_pylock_name("pylock.dev.toml")
    assert not is_pylock_name("pylock.a.b.toml") and not is_pylock_name("pylock.json")
