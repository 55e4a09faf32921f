"""The poetry.lock reader on locks written by real Poetry 1.1.15, 1.8.5 and 2.5.1."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from pyproject2nix.errors import InputError
from pyproject2nix.model import Lock, SourceKind
from pyproject2nix.poetryconstraint import ConstraintError, parse_constraint
from pyproject2nix.poetrylock import read_poetry_lock
from pyproject2nix.select import Options, Selection, check_options, select
from pyproject2nix.targets import SYSTEMS, Target
from tests.helpers import POETRY_FIXTURES


def _read(name: str) -> Lock:
    directory = POETRY_FIXTURES / name
    return read_poetry_lock(directory / "poetry.lock", directory / "pyproject.toml")


def _pick(lock: Lock, system: str = "x86_64-linux", **options: Any) -> Selection:
    return select(lock, Target(SYSTEMS[system], (3, 11)), Options(**options))


def _versions(selection: Selection) -> dict[str, str]:
    return {p.name: str(p.package.version) for p in selection.packages}


@pytest.mark.parametrize(
    ("fixture", "root", "groups"),
    [
        ("lock-2.1-pep621", "demo-poetry", {"test"}),
        ("lock-2.0-classic", "demo-classic", {"dev"}),
        ("lock-1.1", "demo-old", {"dev"}),
        ("large-2.1", "big-app", {"dev"}),
    ],
)
def test_every_lock_version_reads_into_the_model(fixture: str, root: str, groups: set[str]) -> None:
    lock = _read(fixture)
    assert lock.root_names == (root,)
    assert lock.default_groups == frozenset(groups)
    project = lock.by_name(lock.root_names[0])[0]
    assert project.source.kind is SourceKind.EDITABLE and project.source.location == "."
    for package in lock.packages[1:]:
        for wheel in package.wheels:
            assert wheel.url == "" if package.source.kind is SourceKind.REGISTRY else wheel.url
            assert len(wheel.sha256) == 64, (package.name, wheel.filename)
    selection = _pick(lock)
    assert all(
        p.wheel is not None for p in selection.packages if p.package.source.kind.value == "registry"
    )


def test_lock_2_1_sources_markers_and_multiple_versions() -> None:
    lock = _read("lock-2.1-pep621")
    six = lock.by_name(canonicalize_name("six"))[0]
    assert six.source.kind is SourceKind.REGISTRY
    assert six.source.location == "https://pypi.org/simple"  # the legacy source's URL
    colorama = lock.by_name(canonicalize_name("colorama"))[0]
    assert len(colorama.resolution_markers) == 2  # markers = {main = …, test = …}
    root = lock.by_name(canonicalize_name("demo-poetry"))[0]
    pinned = {
        (str(d.version), str(d.marker)) for d in root.dependencies if d.name == "typing-extensions"
    }
    assert pinned == {
        ("4.7.1", 'sys_platform == "win32"'),
        ("4.16.0", 'sys_platform != "win32"'),
    }
    assert _versions(_pick(lock))["typing-extensions"] == "4.16.0"


def test_poetry_install_style_group_selection() -> None:
    lock = _read("lock-2.1-pep621")
    default = _versions(_pick(lock))
    assert "iniconfig" in default and "rich" in default  # main + non-optional group test
    assert "iniconfig" not in _versions(_pick(lock, without_groups=frozenset({"test"})))
    only_main = _versions(_pick(lock, only_groups=frozenset({"main"})))
    assert "rich" in only_main and "iniconfig" not in only_main
    only_test = _versions(_pick(lock, only_groups=frozenset({"test"})))
    assert "iniconfig" in only_test and "rich" not in only_test
    check_options(lock, Options(groups=frozenset({"docs"}), only_groups=frozenset({"main"})))
    with pytest.raises(InputError, match="no dependency group 'nope'"):
        check_options(lock, Options(without_groups=frozenset({"nope"})))


def test_extras_of_the_project_and_of_packages() -> None:
    lock = _read("lock-2.1-pep621")
    assert "pyyaml" not in _versions(_pick(lock))
    assert _versions(_pick(lock, extras=frozenset({"yaml"})))["pyyaml"] == "6.0.4"
    classic = _read("lock-2.0-classic")
    assert "tomli" in _versions(_pick(classic, extras=frozenset({"toml"})))
    assert "tomli" not in _versions(_pick(classic))


def test_classic_project_constraints_path_dependency_and_python_markers() -> None:
    lock = _read("lock-2.0-classic")
    root = lock.by_name(canonicalize_name("demo-classic"))[0]
    certifi = next(d for d in root.dependencies if d.name == "certifi")
    assert str(certifi.marker) == 'python_full_version >= "3.10"'  # python = ">=3.10"
    helper = lock.by_name(canonicalize_name("helper"))[0]
    assert helper.source.kind is SourceKind.EDITABLE and helper.source.location == "libs/helper"
    groups = dict(root.dependency_groups)
    assert [d.name for d in groups["lint"]] == ["mccabe"]
    assert lock.default_groups == frozenset({"dev"})  # lint is optional
    versions = _versions(_pick(lock))
    assert versions["exceptiongroup"] == "1.3.2"  # the non-win32 branch
    assert "mccabe" not in versions
    assert "mccabe" in _versions(_pick(lock, groups=frozenset({"lint"})))


def test_lock_1_1_metadata_files_are_split_by_version() -> None:
    lock = _read("lock-1.1")
    exceptiongroups = lock.by_name(canonicalize_name("exceptiongroup"))
    files = {str(p.version): [w.filename for w in p.wheels] for p in exceptiongroups}
    assert files == {
        "1.1.3": ["exceptiongroup-1.1.3-py3-none-any.whl"],
        "1.3.2": ["exceptiongroup-1.3.2-py3-none-any.whl"],
    }
    assert lock.by_name(canonicalize_name("exceptiongroup"))[0].sdist is not None


def test_large_lock_picks_one_version_per_name_per_python() -> None:
    lock = _read("large-2.1")
    assert len(lock.packages) > 150
    doubled = sorted({p.name for p in lock.packages if len(lock.by_name(p.name)) > 1})
    assert doubled  # real locks pin several versions of one name
    for python in ((3, 10), (3, 13)):
        selection = select(lock, Target(SYSTEMS["x86_64-linux"], python), Options())
        assert len(selection.packages) > 100
        names = [p.name for p in selection.packages]
        assert len(names) == len(set(names))


def _write(tmp_path: Path, fixture: str, old: str, new: str) -> Path:
    directory = tmp_path / fixture
    shutil.copytree(POETRY_FIXTURES / fixture, directory)
    lock = directory / "poetry.lock"
    text = lock.read_text()
    assert old in text, old
    lock.write_text(text.replace(old, new, 1))
    return directory


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'lock-version = "2.1"',
            'lock-version = "3.0"',
            "poetry.lock version 3.0 is not supported",
        ),
        ('version = "26.1.0"', 'version = "one"', r"package\[0\].version: invalid version 'one'"),
        (
            'hash = "sha256:c647aa4a',
            'hash = "c647aa4a',
            r"package\[0\].files\[0\].hash: expected 'sha256:<hex>'",
        ),
        ('p2n-beta = ">=1.5"', 'p2n-beta = ">=1.5 <<"', r"package\[0\].dependencies.p2n-beta"),
        ('type = "legacy"', 'type = "svn"', r"package\[0\].source.type: unknown source type 'svn'"),
    ],
    ids=["lock-version", "version", "hash", "constraint", "source-type"],
)
def test_errors_name_file_and_key_path(tmp_path: Path, old: str, new: str, expected: str) -> None:
    fixture = "loopback-2.1" if "p2n" in old or "legacy" in old else "lock-2.1-pep621"
    directory = _write(tmp_path, fixture, old, new)
    with pytest.raises(InputError, match=expected) as caught:
        read_poetry_lock(directory / "poetry.lock", directory / "pyproject.toml")
    assert str(caught.value).startswith(str(directory / "poetry.lock"))


def test_md5_only_hashes_read_as_missing(tmp_path: Path) -> None:
    directory = _write(
        tmp_path,
        "loopback-2.1",
        'hash = "sha256:95e7457599f3f35b10221aba7dad85273d9aa6b29c5996100ff31e66972ae99f"',
        'hash = "md5:0123456789abcdef0123456789abcdef"',
    )
    lock = read_poetry_lock(directory / "poetry.lock", directory / "pyproject.toml")
    beta = lock.by_name(canonicalize_name("p2n-beta"))[0]
    assert beta.wheels[0].sha256 == ""
    assert beta.version == Version("2.0.0")


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        ("^1.2.3", ["1.2.3", "1.9"], ["2.0", "1.2.2"]),
        ("^0.2.3", ["0.2.9"], ["0.3.0"]),
        ("^0.0.3", ["0.0.3"], ["0.0.4"]),
        ("~1.2", ["1.2.9"], ["1.3"]),
        ("~1", ["1.9"], ["2.0"]),
        (">=1.0 <2.0", ["1.5"], ["2.0"]),
        ("1.2.*", ["1.2.7"], ["1.3"]),
        ("1.2.3", ["1.2.3"], ["1.2.4"]),
        ("*", ["0.1", "99"], []),
        (">=4.5.2,<4.5.5 || >4.5.5,<6.0.0", ["4.5.3", "5.0"], ["4.5.5", "6.0"]),
        ("^2.7 || ^3.6", ["2.7.18", "3.11"], ["3.5", "4.0"]),
    ],
)
def test_poetry_constraints(text: str, inside: list[str], outside: list[str]) -> None:
    constraint = parse_constraint(text)
    assert all(constraint.allows(Version(v)) for v in inside)
    assert not any(constraint.allows(Version(v)) for v in outside)


def test_python_constraints_become_markers() -> None:
    assert parse_constraint("3.8").as_python_marker() == 'python_full_version == "3.8.*"'
    assert parse_constraint("^3.9").as_python_marker() == (
        'python_full_version >= "3.9" and python_full_version < "4"'
    )
    assert parse_constraint("*").as_python_marker() == ""
    assert str(parse_constraint(">=3.8,<3.9 || >=3.10").as_specifier_set()) == ">=3.8"
    with pytest.raises(ConstraintError):
        parse_constraint("^banana")
