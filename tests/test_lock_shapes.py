"""Lock shapes seen in real projects, each from a lock the real tool wrote.

uv 0.13.9 wrote the uv.lock fixtures here (``uv lock --exclude-newer
2025-06-01``); Poetry 1.8.5, 1.1.15 and 2.5.1 wrote the poetry.lock ones (see
tests/fixtures/poetry/README.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from pyproject2nix.buildsystem import LEGACY, build_system_of_sdist
from pyproject2nix.model import SourceKind
from pyproject2nix.poetrylock import read_poetry_lock
from pyproject2nix.project import read_project
from pyproject2nix.select import Options, select
from pyproject2nix.targets import Target, parse_systems
from pyproject2nix.uvlock import read_uv_lock
from tests.helpers import POETRY_FIXTURES, UV_FIXTURES, run_p2n

URL_SUBDIRECTORY = UV_FIXTURES / "url-subdirectory"
SETUP_PY_PATHS = UV_FIXTURES / "setup-py-paths"
POETRY_CORE_SDIST = (
    "https://files.pythonhosted.org/packages/42/b5/50f1fda26c4fe5b1d6ce5cdf0391bdfa1ca12fdcb8ad68"
    "344d5cf678fc90/poetry_core-2.5.0.tar.gz"
)


def _target(python: tuple[int, int] = (3, 11)) -> Target:
    (system,) = parse_systems(("x86_64-linux",))
    return Target(system, python)


def test_uv_direct_url_sdist_with_subdirectory_and_only_a_hash() -> None:
    """``source = { url = "….tar.gz", subdirectory = "…" }`` with ``sdist = { hash = … }``."""
    text = (URL_SUBDIRECTORY / "uv.lock").read_text()
    assert 'subdirectory = "tests/fixtures/project_with_setup" }' in text
    assert 'sdist = { hash = "sha256:81d04c9' in text
    lock = read_uv_lock(URL_SUBDIRECTORY / "uv.lock", "urlsub", drift=True)
    assert lock.drift == ()
    (package,) = lock.by_name(canonicalize_name("my-package"))
    assert package.source.kind is SourceKind.URL
    assert package.source.location == POETRY_CORE_SDIST
    assert package.source.subdirectory == "tests/fixtures/project_with_setup"
    assert package.sdist is not None
    assert package.sdist.url == POETRY_CORE_SDIST
    assert package.sdist.filename == "poetry_core-2.5.0.tar.gz"
    assert package.sdist.sha256.startswith("81d04c9253b1")
    selection = select(lock, _target(), Options())
    chosen = next(p for p in selection.packages if p.name == "my-package")
    assert chosen.sdist is not None and chosen.sdist.url == POETRY_CORE_SDIST


def test_uv_subdirectory_must_stay_inside_the_archive(tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(URL_SUBDIRECTORY, project)
    lock = project / "uv.lock"
    lock.write_text(
        lock.read_text().replace(
            'subdirectory = "tests/fixtures/project_with_setup" }', 'subdirectory = "../x" }', 1
        )
    )
    result = run_p2n("generate", "--project", str(project), "--frozen")
    assert result.returncode == 2
    assert "subdirectory: must be a relative path inside the archive" in result.stderr


def test_build_system_is_read_from_the_subdirectory_of_an_sdist(tmp_path: Path) -> None:
    """The archive's own pyproject.toml (poetry-core) is not the subdirectory's (none: setup.py)."""
    import tarfile

    sdist = tmp_path / "pkg-1.0.tar.gz"
    tree = tmp_path / "pkg-1.0"
    (tree / "sub" / "inner").mkdir(parents=True)
    (tree / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["poetry-core"]\nbuild-backend = "poetry.core.masonry.api"\n'
    )
    (tree / "sub" / "inner" / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["flit_core<4"]\nbuild-backend = "flit_core.buildapi"\n'
    )
    (tree / "sub" / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    with tarfile.open(sdist, "w:gz") as archive:
        archive.add(tree, arcname="pkg-1.0")
    assert build_system_of_sdist(sdist, "here").backend == "poetry.core.masonry.api"
    assert build_system_of_sdist(sdist, "here", "sub") == LEGACY
    inner = build_system_of_sdist(sdist, "here", "sub/inner")
    assert inner.requires == ("flit_core<4",) and inner.backend == "flit_core.buildapi"


def test_uv_path_dependencies_with_only_setup_py() -> None:
    """A ``directory`` and an ``editable`` path dependency, each with setup.py and no pyproject."""
    assert not (SETUP_PY_PATHS / "libs" / "legacy" / "pyproject.toml").exists()
    assert (SETUP_PY_PATHS / "libs" / "legacy" / "setup.py").is_file()
    lock = read_uv_lock(SETUP_PY_PATHS / "uv.lock", "pathdeps", drift=True)
    assert lock.drift == ()
    kinds: dict[str, SourceKind] = {p.name: p.source.kind for p in lock.packages}
    assert kinds["legacy-helper"] is SourceKind.DIRECTORY
    assert kinds["legacy-editable"] is SourceKind.EDITABLE
    legacy = read_project(SETUP_PY_PATHS / "libs" / "legacy")
    assert legacy.name is None and legacy.scripts == () and legacy.import_root == "."


def test_generate_builds_setup_py_paths_with_the_legacy_backend(tmp_path: Path) -> None:
    project = tmp_path / "pathdeps"
    shutil.copytree(SETUP_PY_PATHS, project)
    result = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert result.returncode == 0, result.stderr
    lock_nix = (project / "p2n" / "lock.nix").read_text()
    assert 'path = "libs/legacy";' in lock_nix and 'path = "libs/editable";' in lock_nix
    assert lock_nix.count('backend = "setuptools.build_meta:__legacy__";') == 2


def test_directory_without_pyproject_or_setup_py_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"pyproject\.toml: not found"):
        read_project(tmp_path)


def test_poetry_project_table_with_only_urls_beside_tool_poetry() -> None:
    """Poetry 1.8.5 locked it; [project] holds only urls, [tool.poetry] the rest."""
    directory = POETRY_FIXTURES / "shapes-2.0"
    assert "[project.urls]" in (directory / "pyproject.toml").read_text()
    project = read_project(directory)
    assert project.name == "shapes"
    lock = read_poetry_lock(directory / "poetry.lock", directory / "pyproject.toml")
    assert lock.root_names == ("shapes",)
    assert lock.drift == ()
    (root,) = lock.by_name(canonicalize_name("shapes"))
    assert root.version == Version("0.1.0")
    assert {d.name for d in root.dependencies} == {"attrs", "legacy-helper"}


@pytest.mark.parametrize("fixture", ["shapes-2.0", "shapes-2.1"])
def test_poetry_extra_naming_an_undeclared_package_is_what_poetry_locked(fixture: str) -> None:
    """``yaml = ["pyyaml", "ujson"]`` without ujson declared: Poetry locks the extra as pyyaml."""
    directory = POETRY_FIXTURES / fixture
    assert 'yaml = ["pyyaml", "ujson"]' in (directory / "pyproject.toml").read_text()
    assert 'yaml = ["pyyaml"]' in (directory / "poetry.lock").read_text()
    lock = read_poetry_lock(directory / "poetry.lock", directory / "pyproject.toml")
    (root,) = lock.by_name(canonicalize_name("shapes"))
    assert [d.name for d in root.extra("yaml")] == ["pyyaml"]


@pytest.mark.parametrize("fixture", ["shapes-2.0", "shapes-2.1"])
def test_poetry_setup_py_only_path_dependency(fixture: str) -> None:
    directory = POETRY_FIXTURES / fixture
    lock = read_poetry_lock(directory / "poetry.lock", directory / "pyproject.toml")
    (helper,) = lock.by_name(canonicalize_name("legacy-helper"))
    assert helper.source.kind is SourceKind.EDITABLE
    assert helper.source.location == "libs/legacy"
    assert [d.name for d in helper.dependencies] == ["six"]
    assert read_project(directory / "libs" / "legacy").import_root == "."


@pytest.mark.parametrize("fixture", ["multipin-2.0", "multipin-1.1"])
@pytest.mark.parametrize(("python", "urllib3"), [((3, 9), "1.26.20"), ((3, 11), "2.8.0")])
def test_poetry_pin_whose_markers_match_the_target(
    fixture: str, python: tuple[int, int], urllib3: str
) -> None:
    """urllib3 locked for python < 3.10 and >= 3.10; requests accepts both versions."""
    directory = POETRY_FIXTURES / fixture
    lock = read_poetry_lock(directory / "poetry.lock", directory / "pyproject.toml")
    urllib3s = lock.by_name(canonicalize_name("urllib3"))
    assert sorted(str(p.version) for p in urllib3s) == ["1.26.20", "2.8.0"]
    selection = select(lock, _target(python), Options())
    versions: dict[str, str] = {p.name: str(p.package.version) for p in selection.packages}
    assert versions["urllib3"] == urllib3


@pytest.mark.parametrize("fixture", ["multipin-2.0", "multipin-1.1"])
def test_generate_on_a_lock_pinning_urllib3_twice(tmp_path: Path, fixture: str) -> None:
    project = tmp_path / fixture
    shutil.copytree(POETRY_FIXTURES / fixture, project)
    result = run_p2n(
        "generate", "--project", str(project), "--system", "x86_64-linux", "--python", "3.11"
    )
    assert result.returncode == 0, result.stderr
    assert "urllib3-2.8.0-py3-none-any.whl" in (project / "p2n" / "lock.nix").read_text()


@pytest.mark.parametrize("fixture", ["shapes-2.0", "shapes-2.1"])
def test_generate_on_the_poetry_shapes(
    tmp_path: Path, fixture: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: file URLs from PyPI, the setup.py-only path dependency built by setuptools."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project = tmp_path / fixture
    shutil.copytree(POETRY_FIXTURES / fixture, project)
    result = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert result.returncode == 0, result.stderr
    lock_nix = (project / "p2n" / "lock.nix").read_text()
    assert 'path = "libs/legacy";' in lock_nix
    assert 'backend = "setuptools.build_meta:__legacy__";' in lock_nix
    assert "pyyaml" not in lock_nix  # the extra is not asked for
    extra = run_p2n(
        "generate", "--project", str(project), "--system", "x86_64-linux", "--extra", "yaml"
    )
    assert extra.returncode == 0, extra.stderr
    assert "pyyaml" in (project / "p2n" / "lock.nix").read_text()


def test_pyproject_without_project_table_names_the_missing_table(tmp_path: Path) -> None:
    """PyYAML's shape: [build-system] only, metadata in setup.py; uv locks no project."""
    import subprocess

    from tests.support.localindex import uv

    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
    )
    (tmp_path / "setup.py").write_text(
        'from setuptools import setup\nsetup(name="x", version="1")\n'
    )
    subprocess.run([uv(), "lock", "--quiet"], cwd=tmp_path, check=True, capture_output=True)
    assert "[[package]]" not in (tmp_path / "uv.lock").read_text()
    result = run_p2n("generate", "--project", str(tmp_path))
    assert result.returncode == 2
    assert "pyproject.toml has no [project] table" in result.stderr
    assert "add [project] with name, version and dependencies, then run `uv lock`" in result.stderr


_CFGV_3_5_WHEEL = "a8dc6b26ad22ff227d2634a65cb388215ce6cc96bbcc5cfde7641ae87e8dacc0"
_CFGV_3_5_SDIST = "d5b1034354820651caa73ede66a6294d6e95c1b00acc5e9b098e917404669132"
_CFGV_3_5 = f"""
[[package]]
name = "cfgv"
version = "3.5.0"
description = "Validate configuration and produce human readable error messages."
optional = false
python-versions = ">=3.10"
files = [
    {{file = "cfgv-3.5.0-py2.py3-none-any.whl", hash = "sha256:{_CFGV_3_5_WHEEL}"}},
    {{file = "cfgv-3.5.0.tar.gz", hash = "sha256:{_CFGV_3_5_SDIST}"}},
]
"""


@pytest.mark.parametrize(("python", "cfgv"), [((3, 9), "3.4.0"), ((3, 11), "3.5.0")])
def test_poetry_pins_told_apart_by_nothing_take_the_newest_that_fits(
    tmp_path: Path, python: tuple[int, int], cfgv: str
) -> None:
    """cleo's Poetry 1.8 lock pins cfgv per Python range; pre-commit's edge fits both.

    twinpin-2.0 is Poetry 1.8.5's lock of ``pre-commit`` for ``python = "^3.8"``
    (cfgv 3.4.0 only); the second pin is added here as cleo's lock has it (cfgv
    3.5.0, ``python-versions = ">=3.10"``, its real files and hashes on PyPI).
    """
    project = tmp_path / "twinpin"
    shutil.copytree(POETRY_FIXTURES / "twinpin-2.0", project)
    lock_path = project / "poetry.lock"
    text = lock_path.read_text()
    anchor = '\n[[package]]\nname = "distlib"'
    assert anchor in text
    lock_path.write_text(text.replace(anchor, _CFGV_3_5 + anchor, 1))
    lock = read_poetry_lock(lock_path, project / "pyproject.toml")
    (pre_commit,) = lock.by_name(canonicalize_name("pre-commit"))
    (edge,) = [d for d in pre_commit.dependencies if d.name == "cfgv"]
    assert edge.version is None and edge.versions == (Version("3.4.0"), Version("3.5.0"))
    selection = select(lock, _target(python), Options())
    versions: dict[str, str] = {p.name: str(p.package.version) for p in selection.packages}
    assert versions["cfgv"] == cfgv


def test_poetry_pin_named_exactly_wins_over_the_newest() -> None:
    """xl-2.1 (Poetry 2.5.1): nvidia-cublas 13.4.1.3 and 13.10.0.20 both match Linux.

    cuda-toolkit[cublas] asks for ``==13.4.1.3.*``, torch's CUDA packages for
    ``*``; Poetry installs 13.4.1.3, the one version every edge accepts.
    """
    directory = POETRY_FIXTURES / "xl-2.1"
    lock = read_poetry_lock(directory / "poetry.lock", directory / "pyproject.toml")
    cublas = sorted(str(p.version) for p in lock.by_name(canonicalize_name("nvidia-cublas")))
    assert cublas == ["13.10.0.20", "13.4.1.3"]
    for system in ("x86_64-linux", "aarch64-linux"):
        (info,) = parse_systems((system,))
        selection = select(lock, Target(info, (3, 11)), Options())
        versions: dict[str, str] = {p.name: str(p.package.version) for p in selection.packages}
        assert versions["nvidia-cublas"] == "13.4.1.3", system
