"""Builds from source without Nix: git URLs, NAR hashes, [build-system], the build lock."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from pyproject2nix.buildlock import BuildLock, PinnedWheel, RecordedSource, read_build_lock
from pyproject2nix.buildsystem import (
    LEGACY,
    BuildSystem,
    build_system_from_pyproject,
    build_system_of_sdist,
)
from pyproject2nix.errors import InputError
from pyproject2nix.gitsource import nar_hash_of_tar, parse_git_location
from tests.helpers import EXAMPLE, copy_project, run_p2n

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("location", "url", "subdirectory", "ref"),
    [
        (
            f"https://github.com/org/repo?rev=v1.0#{SHA}",
            "https://github.com/org/repo",
            None,
            "v1.0",
        ),
        (f"git+https://github.com/org/repo#{SHA}", "https://github.com/org/repo", None, None),
        (
            f"https://github.com/org/repo?subdirectory=a%2Fb&branch=main#{SHA}",
            "https://github.com/org/repo",
            "a/b",
            "main",
        ),
        (
            f"ssh://git@github.com/org/repo.git?tag=v2#{SHA}",
            "ssh://git@github.com/org/repo.git",
            None,
            "v2",
        ),
        (f"git@github.com:org/repo.git#{SHA}", "ssh://git@github.com/org/repo.git", None, None),
        (f"https://h/r?rev={SHA.upper()}", "https://h/r", None, SHA.upper()),
    ],
)
def test_git_locations_of_every_shape(
    location: str, url: str, subdirectory: str | None, ref: str | None
) -> None:
    source = parse_git_location(location, "uv.lock")
    assert (source.url, source.rev, source.subdirectory, source.ref) == (
        url,
        SHA,
        subdirectory,
        ref,
    )


def test_git_location_without_a_full_commit_is_refused() -> None:
    with pytest.raises(InputError, match="not pinned to a full commit sha; re-lock"):
        parse_git_location("https://h/r?branch=main#abc123", "uv.lock: pkg")


def test_nar_hash_matches_nix(tmp_path: Path) -> None:
    """Same tree as ``nix hash path`` gives (executable bit, symlink, nested directory)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data, mode in (
            ("pkg/sub/a.py", b"x = 1\n", 0o644),
            ("run.sh", b"#!/bin/sh\n", 0o755),
        ):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, "run.sh"
        tar.addfile(link)
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar:
        ours = nar_hash_of_tar(tar)
        tar.extractall(tmp_path / "tree", filter="tar")
    nix = subprocess.run(
        ["nix", "hash", "path", "--type", "sha256", str(tmp_path / "tree")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert nix.returncode == 0, nix.stderr
    assert ours == nix.stdout.strip()


def test_build_system_defaults() -> None:
    assert build_system_from_pyproject(None, "x") == LEGACY
    assert build_system_from_pyproject("[project]\nname = 'x'\n", "x") == LEGACY
    assert build_system_from_pyproject("[build-system]\nrequires = ['flit_core']\n", "x") == (
        BuildSystem(("flit_core",), LEGACY.backend)
    )
    declared = build_system_from_pyproject(
        "[build-system]\nrequires = ['hatchling']\nbuild-backend = 'hatchling.build'\n"
        "backend-path = ['.']\n",
        "x",
    )
    assert declared == BuildSystem(("hatchling",), "hatchling.build", (".",))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[build-system]\nrequires = 'x'\n", "build-system.requires: expected an array of strings"),
        ("[build-system]\nrequires = ['x <<1']\n", "invalid requirement 'x <<1'"),
        ("[build-system]\nrequires = []\nbuild-backend = 1\n", "build-backend: expected a string"),
        ("[build-system", "pyproject.toml:1:14: malformed TOML"),
    ],
)
def test_bad_build_system_is_an_input_error(text: str, expected: str) -> None:
    with pytest.raises(InputError, match=expected):
        build_system_from_pyproject(text, "demo-1.0.tar.gz")


def test_build_system_of_an_sdist(tmp_path: Path) -> None:
    sdist = tmp_path / "demo-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        data = (
            b"[build-system]\nrequires = ['poetry-core']\n"
            b"build-backend = 'poetry.core.masonry.api'\n"
        )
        info = tarfile.TarInfo("demo-1.0/pyproject.toml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        nested = tarfile.TarInfo("demo-1.0/tests/pyproject.toml")
        tar.addfile(nested, io.BytesIO(b""))
    assert build_system_of_sdist(sdist, "x").backend == "poetry.core.masonry.api"


def test_build_lock_round_trips(tmp_path: Path) -> None:
    lock = BuildLock()
    lock.sources["sdist sha256:ab"] = RecordedSource(BuildSystem(('a"b',), "b.api"))
    lock.sources["git https://h/r@x"] = RecordedSource(LEGACY, "sha256-" + "x" * 43 + "=")
    wheel = PinnedWheel(
        "hatchling", "1.0", "hatchling-1.0-py3-none-any.whl", "https://h/w", "0" * 64
    )
    lock.resolutions[(("hatchling",), "3.11", "x86_64-linux")] = (wheel,)
    path = tmp_path / "build-systems.toml"
    path.write_bytes(lock.render())
    again = read_build_lock(path)
    assert again.sources == lock.sources and again.resolutions == lock.resolutions
    assert again.render() == lock.render()


def test_check_says_stale_when_the_build_lock_lacks_a_resolution(tmp_path: Path) -> None:
    project = copy_project(EXAMPLE, tmp_path / "hello")
    assert run_p2n("generate", "--project", str(project)).returncode == 0
    (project / "p2n" / "build-systems.toml").write_text("# emptied\n")
    stale = run_p2n("check", "--project", str(project))
    assert stale.returncode == 1
    assert "no resolution of ['hatchling']" in stale.stderr


def test_prefer_sdist_names_a_locked_package(tmp_path: Path) -> None:
    project = copy_project(EXAMPLE, tmp_path / "hello")
    result = run_p2n("generate", "--project", str(project), "--prefer-sdist", "ritch")
    assert result.returncode == 2
    assert "--prefer-sdist ritch: no such package in the lock" in result.stderr


def test_build_requirements_resolve_for_a_python_the_host_lacks(tmp_path: Path) -> None:
    """uv resolves for the target's Python (environments), without that interpreter."""
    project = copy_project(EXAMPLE, tmp_path / "hello")
    (project / "p2n" / "build-systems.toml").unlink()
    result = run_p2n(
        "generate", "--project", str(project), "--python", "3.13", "--system", "x86_64-linux"
    )
    assert result.returncode == 0, result.stderr
    recorded = (project / "p2n" / "build-systems.toml").read_text()
    assert 'python = "3.13"' in recorded and "hatchling-" in recorded


def test_unresolvable_build_requirement_names_the_file_and_the_fix() -> None:
    """`uv init` pins uv_build to the running uv's version; an index without it fails clearly."""
    from pyproject2nix.buildlock import resolve
    from pyproject2nix.errors import InputError
    from pyproject2nix.targets import SYSTEMS, Target

    target = Target(SYSTEMS["x86_64-linux"], (3, 11))
    with pytest.raises(InputError) as raised:
        resolve(("uv_build>=999.0",), [target], "demo/pyproject.toml")
    message = str(raised.value)
    assert message.startswith("demo/pyproject.toml: cannot resolve the build requirements")
    assert "uv_build>=999.0" in message
    assert "fix: loosen them" in message
    assert "\n" not in message
