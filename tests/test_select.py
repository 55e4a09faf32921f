"""Selection for target systems: markers, forks, extras, groups, wheel tags."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest
from packaging.tags import Tag
from packaging.utils import canonicalize_name

from pyproject2nix.errors import InputError, SelectionError
from pyproject2nix.model import Lock
from pyproject2nix.poetrylock import read_poetry_lock
from pyproject2nix.select import (
    Options,
    Selection,
    UnservedError,
    check_options,
    check_selection,
    select,
    select_systems,
)
from pyproject2nix.targets import SYSTEMS, Target
from pyproject2nix.uvlock import read_uv_lock
from tests.helpers import EXAMPLE, POETRY_FIXTURES, UV_FIXTURES


@pytest.fixture(scope="module")
def forks() -> Lock:
    return read_uv_lock(UV_FIXTURES / "forks" / "uv.lock", "forks")


@pytest.fixture(scope="module")
def example() -> Lock:
    return read_uv_lock(EXAMPLE / "uv.lock", "hello-p2n")


def _pick(lock: Lock, system: str, python: tuple[int, int], **options: Any) -> Selection:
    return select(lock, Target(SYSTEMS[system], python), Options(**options))


def _names(selection: Selection) -> set[str]:
    return {p.name for p in selection.packages}


def _wheel(selection: Selection, name: str) -> str:
    chosen = next(p for p in selection.packages if p.name == name)
    assert chosen.wheel is not None
    return chosen.wheel.filename


def test_fork_follows_the_target_python(forks: Lock) -> None:
    versions = {}
    for python in ((3, 10), (3, 11), (3, 12)):
        selection = _pick(forks, "x86_64-linux", python)
        numpy = next(p for p in selection.packages if p.name == "numpy")
        versions[python] = str(numpy.package.version)
    assert versions == {(3, 10): "2.0.2", (3, 11): "2.4.6", (3, 12): "2.5.5"}


def test_wheels_are_chosen_for_the_target_not_the_host(forks: Lock) -> None:
    chosen = {
        system: _wheel(_pick(forks, system, (3, 12)), "numpy")
        for system in ("x86_64-linux", "aarch64-linux", "aarch64-darwin", "x86_64-darwin")
    }
    assert "cp312-cp312-manylinux" in chosen["x86_64-linux"]
    assert chosen["x86_64-linux"].endswith("x86_64.whl")
    assert chosen["aarch64-linux"].endswith("aarch64.whl")
    assert "macosx" in chosen["aarch64-darwin"] and chosen["aarch64-darwin"].endswith("arm64.whl")
    assert "macosx" in chosen["x86_64-darwin"] and chosen["x86_64-darwin"].endswith("x86_64.whl")


def test_platform_markers_are_evaluated_for_the_target(forks: Lock) -> None:
    linux = _names(_pick(forks, "x86_64-linux", (3, 12)))
    assert "uvloop" in linux  # sys_platform != 'win32'
    assert "colorama" not in linux  # sys_platform == 'win32'


def test_extras_of_dependencies_are_followed(forks: Lock) -> None:
    # requests[socks] pulls pysocks only through the extra.
    assert "pysocks" in _names(_pick(forks, "x86_64-linux", (3, 12)))


def test_groups_default_dev_like_uv_sync(forks: Lock) -> None:
    default = _names(_pick(forks, "x86_64-linux", (3, 12)))
    assert "iniconfig" in default and "pytest" not in default
    no_dev = _names(_pick(forks, "x86_64-linux", (3, 12), no_default_groups=True))
    assert "iniconfig" not in no_dev
    with_test = _names(_pick(forks, "x86_64-linux", (3, 12), groups=frozenset({"test"})))
    assert {"pytest", "pluggy", "iniconfig"} <= with_test


def test_project_extras(forks: Lock) -> None:
    assert "pyyaml" not in _names(_pick(forks, "x86_64-linux", (3, 12)))
    one = _names(_pick(forks, "x86_64-linux", (3, 12), extras=frozenset({"yaml"})))
    assert "pyyaml" in one and "cryptography" not in one
    every = _names(_pick(forks, "x86_64-linux", (3, 12), all_extras=True))
    assert {"pyyaml", "cryptography", "cffi"} <= every


def test_unknown_extra_or_group_is_refused(forks: Lock) -> None:
    with pytest.raises(InputError, match="no extra 'yml'"):
        check_options(forks, Options(extras=frozenset({"yml"})))
    with pytest.raises(InputError, match="no dependency group 'docs'"):
        check_options(forks, Options(groups=frozenset({"docs"})))


def test_dependencies_are_recorded_per_package(example: Lock) -> None:
    selection = _pick(example, "x86_64-linux", (3, 11))
    rich = next(p for p in selection.packages if p.name == "rich")
    assert rich.dependencies == ("markdown-it-py", "pygments")
    root = next(p for p in selection.packages if p.name == "hello-p2n")
    assert root.wheel is None  # installed from local source
    assert root.dependencies == ("attrs", "iniconfig", "rich")


def test_no_wheel_for_a_needed_system_builds_the_sdist(forks: Lock) -> None:
    selection = _pick(forks, "x86_64-darwin", (3, 10), extras=frozenset({"crypto"}))
    cryptography = next(p for p in selection.packages if p.name == "cryptography")
    assert cryptography.wheel is None
    assert cryptography.sdist is not None and cryptography.sdist.filename.endswith(".tar.gz")


def test_prefer_sdist_and_prefer_wheel(example: Lock) -> None:
    target = Target(SYSTEMS["x86_64-linux"], (3, 11))
    rich = canonicalize_name("rich")
    one = select(example, target, Options(prefer_sdist=frozenset({rich})))
    chosen: dict[str, tuple[bool, bool]] = {
        p.name: (p.wheel is not None, p.sdist is not None) for p in one.packages
    }
    assert chosen["rich"] == (False, True) and chosen["attrs"] == (True, False)
    every = select(
        example, target, Options(prefer_sdist=frozenset({":all:"}), prefer_wheel=frozenset({rich}))
    )
    chosen = {p.name: (p.wheel is not None, p.sdist is not None) for p in every.packages}
    assert chosen["rich"] == (True, False) and chosen["attrs"] == (False, True)


def test_no_wheel_and_no_sdist_names_package_and_system(tmp_path: Path) -> None:
    lock = _tiny_lock(
        tmp_path,
        '{ url = "https://x/dep-1-cp310-cp310-win_amd64.whl", hash = "sha256:' + "a" * 64 + '" }',
    )
    with pytest.raises(SelectionError) as caught:
        select(lock, Target(SYSTEMS["x86_64-darwin"], (3, 11)), Options())
    message = str(caught.value)
    assert "dep 1 has no wheel for x86_64-darwin with CPython 3.11 and no sdist" in message
    assert "\n" not in message


def _tiny_lock(tmp_path: Path, wheel: str, top: str = "") -> Lock:
    path = tmp_path / "uv.lock"
    path.write_text(
        f'version = 1\nrevision = 3\nrequires-python = ">=3.11"\n{top}'
        '[[package]]\nname = "app"\nversion = "1"\nsource = { virtual = "." }\n'
        'dependencies = [{ name = "dep" }]\n'
        '[[package]]\nname = "dep"\nversion = "1"\n'
        'source = { registry = "https://pypi.org/simple" }\n'
        f"wheels = [{wheel}]\n"
    )
    return read_uv_lock(path, "app")


def test_missing_hash_is_refused(tmp_path: Path) -> None:
    lock = _tiny_lock(tmp_path, '{ url = "https://x/dep-1-py3-none-any.whl" }')
    selection = _pick(lock, "x86_64-linux", (3, 11))
    with pytest.raises(SelectionError, match=r"dep: .* has no sha256 hash"):
        check_selection(lock, selection)


def test_plain_http_is_refused(tmp_path: Path) -> None:
    lock = _tiny_lock(
        tmp_path, '{ url = "http://x/dep-1-py3-none-any.whl", hash = "sha256:' + "a" * 64 + '" }'
    )
    selection = _pick(lock, "x86_64-linux", (3, 11))
    with pytest.raises(SelectionError, match="not an https:// URL"):
        check_selection(lock, selection)


def test_conflicting_extras_pick_their_own_fork() -> None:
    """uv encodes conflicting extras in markers; each extra must get its own versions."""
    lock = read_uv_lock(UV_FIXTURES / "conflicts" / "uv.lock", "conflicts")
    versions = {}
    for extra in ("old", "new"):
        selection = _pick(lock, "x86_64-linux", (3, 12), extras=frozenset({extra}))
        idna = next(p for p in selection.packages if p.name == "idna")
        versions[extra] = str(idna.package.version)
        requests = next(p for p in selection.packages if p.name == "requests")
        assert "idna" in requests.dependencies
    assert versions == {"old": "3.6", "new": "3.7"}
    plain = _names(_pick(lock, "x86_64-linux", (3, 12)))
    assert "idna" not in plain and "six" in plain
    groups = _pick(lock, "x86_64-linux", (3, 12), groups=frozenset({"legacy"}))
    attrs = next(p for p in groups.packages if p.name == "attrs")
    assert str(attrs.package.version) == "23.1.0"


_HASH = '", hash = "sha256:' + "a" * 64 + '" }'


def _wheels(*filenames: str) -> str:
    return ", ".join('{ url = "https://x/' + name + _HASH for name in filenames)


def test_linux_wheels_rank_after_every_manylinux_tag(tmp_path: Path) -> None:
    """PyTorch's indexes publish ``linux_x86_64`` wheels; pip and uv install them on Linux."""
    target = Target(SYSTEMS["x86_64-linux"], (3, 12))
    ranked = target.tag_priority
    plain = Tag("cp312", "cp312", "linux_x86_64")
    assert plain in ranked
    # As in packaging's sys_tags (pip, uv): per interpreter and ABI, every manylinux tag first.
    same_abi = [t for t in ranked if (t.interpreter, t.abi) == ("cp312", "cp312")]
    assert same_abi[-1] == plain and len(same_abi) > 30
    assert ranked[plain] < ranked[Tag("cp312", "abi3", "manylinux_2_40_x86_64")]
    assert Tag("cp312", "cp312", "linux_aarch64") not in ranked
    assert (
        Tag("cp312", "cp312", "linux_aarch64")
        in Target(SYSTEMS["aarch64-linux"], (3, 12)).tag_priority
    )
    assert not any(
        t.platform.startswith("linux")
        for t in Target(SYSTEMS["aarch64-darwin"], (3, 12)).tag_priority
    )

    only_plain = _tiny_lock(tmp_path, _wheels("dep-1-cp312-cp312-linux_x86_64.whl"))
    assert (
        _wheel(_pick(only_plain, "x86_64-linux", (3, 12)), "dep")
        == "dep-1-cp312-cp312-linux_x86_64.whl"
    )
    both = _tiny_lock(
        tmp_path,
        _wheels("dep-1-cp312-cp312-linux_x86_64.whl", "dep-1-cp312-cp312-manylinux_2_5_x86_64.whl"),
    )
    assert _wheel(_pick(both, "x86_64-linux", (3, 12)), "dep").endswith("manylinux_2_5_x86_64.whl")


@pytest.mark.parametrize("order", [(4, 5), (5, 4)])
def test_the_higher_build_tag_wins_among_equal_tags(tmp_path: Path, order: tuple[int, int]) -> None:
    lock = _tiny_lock(tmp_path, _wheels(*(f"dep-1-{b}-py3-none-any.whl" for b in order)))
    assert _wheel(_pick(lock, "x86_64-linux", (3, 12)), "dep") == "dep-1-5-py3-none-any.whl"
    # Tags rank first: a better tag with a lower build still wins, as in pip and uv.
    tagged = _tiny_lock(
        tmp_path,
        _wheels("dep-1-9-py3-none-any.whl", "dep-1-1-cp312-abi3-manylinux_2_17_x86_64.whl"),
    )
    assert _wheel(_pick(tagged, "x86_64-linux", (3, 12)), "dep") == (
        "dep-1-1-cp312-abi3-manylinux_2_17_x86_64.whl"
    )


def _extras_lock(tmp_path: Path) -> Lock:
    """``app`` needs ``dep[fancy-feature]``; dep's markers test that extra in several spellings."""
    packages = [
        (
            "app",
            'source = { virtual = "." }\n'
            'dependencies = [{ name = "dep", extra = ["fancy-feature"] }]\n',
        ),
        (
            "dep",
            'source = { registry = "https://pypi.org/simple" }\n'
            f"wheels = [{_wheels('dep-1-py3-none-any.whl')}]\n"
            "dependencies = [\n"
            """  { name = "reversed", marker = "'fancy-feature' == extra" },\n"""
            """  { name = "spelt", marker = "os_name == 'posix' and extra=='Fancy_Feature'" },\n"""
            """  { name = "negated", marker = "extra != 'fancy-feature'" },\n"""
            """  { name = "other", marker = "extra == 'other'" },\n"""
            "]\n",
        ),
    ]
    for name in ("reversed", "spelt", "negated", "other"):
        packages.append(
            (
                name,
                'source = { registry = "https://pypi.org/simple" }\n'
                f"wheels = [{_wheels(f'{name}-1-py3-none-any.whl')}]\n",
            )
        )
    path = tmp_path / "uv.lock"
    path.write_text(
        'version = 1\nrevision = 3\nrequires-python = ">=3.11"\n'
        + "".join(f'[[package]]\nname = "{n}"\nversion = "1"\n{body}' for n, body in packages)
    )
    return read_uv_lock(path, "app")


def test_extra_markers_are_evaluated_with_the_active_extras(tmp_path: Path) -> None:
    """``"x" == extra`` selects like ``extra == "x"``; names compare normalised (PEP 685)."""
    names = _names(_pick(_extras_lock(tmp_path), "x86_64-linux", (3, 12)))
    assert {"reversed", "spelt"} <= names
    assert not {"negated", "other"} & names


def test_poetry_reversed_extra_marker_keeps_the_dependency(tmp_path: Path) -> None:
    """Poetry copies a package's markers as written: ``"plugins" == extra`` must select."""
    directory = tmp_path / "lock"
    shutil.copytree(POETRY_FIXTURES / "lock-2.1-pep621", directory)
    lock_file = directory / "poetry.lock"
    text = lock_file.read_text()
    for old, new in [
        (
            'markdown-it-py = ">=2.2.0"',
            'markdown-it-py = {version = ">=2.2.0", extras = ["plugins"]}',
        ),
        (
            'mdurl = ">=0.1,<1.0"',
            'mdurl = {version = ">=0.1,<1.0", optional = true, markers = "\\"plugins\\" == extra"}',
        ),
        ('plugins = ["mdit-py-plugins"]', 'plugins = ["mdurl"]'),
    ]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    lock_file.write_text(text)
    lock = read_poetry_lock(lock_file, directory / "pyproject.toml")
    selection = _pick(lock, "x86_64-linux", (3, 11))
    markdown = next(p for p in selection.packages if p.name == "markdown-it-py")
    assert markdown.dependencies == ("mdurl",)


def _all_targets(python: tuple[int, int] = (3, 12)) -> list[Target]:
    return [Target(SYSTEMS[name], python) for name in sorted(SYSTEMS)]


LINUX_ONLY = _wheels(
    "dep-1-cp312-cp312-manylinux_2_17_x86_64.whl", "dep-1-cp312-cp312-win_amd64.whl"
)


def test_systems_without_files_are_left_out_by_default(tmp_path: Path) -> None:
    lock = _tiny_lock(tmp_path, LINUX_ONLY)
    chosen = select_systems(lock, _all_targets(), Options(), strict=False)
    assert [s.target.system.nix_system for s in chosen.selections] == ["x86_64-linux"]
    assert [o.system for o in chosen.left_out] == [
        "aarch64-darwin",
        "aarch64-linux",
        "x86_64-darwin",
    ]
    reason = chosen.left_out[0].reason
    assert chosen.left_out[0].missing_files
    assert reason.startswith("package dep 1 has no wheel for aarch64-darwin with CPython 3.12")
    assert "lock has: dep-1-cp312-cp312-manylinux_2_17_x86_64.whl, dep-1-cp312" in reason


def test_asked_and_required_systems_stay_strict(tmp_path: Path) -> None:
    lock = _tiny_lock(tmp_path, LINUX_ONLY)
    with pytest.raises(UnservedError, match="no wheel for aarch64-darwin") as caught:
        select_systems(lock, _all_targets(), Options(), strict=True)
    assert "\n" not in str(caught.value) and "--system" in str(caught.value)
    assert "[tool.uv] required-environments" in caught.value.fix
    poetry = dataclasses.replace(lock, path=tmp_path / "poetry.lock")
    with pytest.raises(UnservedError) as caught:
        select_systems(poetry, _all_targets(), Options(), strict=True)
    assert caught.value.fix == "lock versions that ship files for it"
    required = _tiny_lock(
        tmp_path, LINUX_ONLY, "required-markers = [\"platform_machine == 'aarch64'\"]\n"
    )
    assert required.required_markers
    with pytest.raises(UnservedError, match="no wheel for aarch64-linux"):
        select_systems(required, _all_targets(), Options(), strict=False)


def test_no_system_left_is_an_error(tmp_path: Path) -> None:
    lock = _tiny_lock(tmp_path, _wheels("dep-1-cp312-cp312-win_amd64.whl"))
    with pytest.raises(SelectionError, match="no system is left to generate for") as caught:
        select_systems(lock, _all_targets(), Options(), strict=False)
    for system in SYSTEMS:
        assert f"{system}: package dep 1 has no wheel" in str(caught.value)
