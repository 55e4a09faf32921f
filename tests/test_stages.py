"""The stages of ``generate.plan``: frozen values in, frozen values out, edges named.

Each stage is called on its own here, on the committed example and on
fixtures, without Nix and without the network.
"""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from pyproject2nix import generate, select
from pyproject2nix.buildlock import StaleBuildLock
from pyproject2nix.buildsystem import BuildSystem
from pyproject2nix.generate import (
    GenerateRequest,
    IndexEdge,
    plan,
    plan_sources,
    read_inputs,
    read_local_sources,
    resolve_files,
    select_packages,
)
from pyproject2nix.index import IndexClient, IndexFile
from pyproject2nix.index.client import Files, PageRequest
from pyproject2nix.index.versions import VersionRequest
from pyproject2nix.settings import Settings
from pyproject2nix.sourcebuild import build_needs, sources_to_learn
from tests.helpers import EXAMPLE, copy_project

LINUX = Settings(systems=("x86_64-linux",))
HELLO = canonicalize_name("hello-p2n")


class NoIndex(IndexClient):
    """An index client that fails the test if anything asks it."""

    def __init__(self) -> None:
        super().__init__(offline=True)

    def version_files(
        self, wanted: Sequence[VersionRequest]
    ) -> dict[tuple[str, str, str], dict[str, IndexFile]]:
        raise AssertionError(f"the index was asked: {wanted}")

    def pages(self, wanted: Sequence[PageRequest]) -> dict[tuple[str, str], Files]:
        raise AssertionError(f"the index was asked: {wanted}")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sockets and subprocesses fail: a stage that reaches an edge it should not fails."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"an edge was used: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)


def test_stages_on_the_example_use_no_edge(no_network: None) -> None:
    """The example's build lock records everything: no index, no git, no uv."""
    request = GenerateRequest(project_dir=EXAMPLE, settings=LINUX, online=False)
    inputs = read_inputs(request)
    assert inputs.lock_path == EXAMPLE / "uv.lock" and inputs.python == (3, 11)
    assert [t.system.nix_system for t in inputs.targets] == ["x86_64-linux"]
    assert set(inputs.input_digests) == {"uv.lock", "pyproject.toml"}

    selected = select_packages(inputs, request.settings, IndexEdge(request, NoIndex()))
    (selection,) = selected.selections
    assert "rich" in {p.name for p in selection.packages}
    assert "colorama" not in {p.name for p in selection.packages}  # win32 only

    resolved = resolve_files(inputs, selected, request.settings, IndexEdge(request, NoIndex()))
    assert resolved.selections == selected.selections  # uv.lock has every URL already
    assert resolved.resolved_files == 0 and resolved.allowed == ()

    local = read_local_sources(request, inputs, resolved.selections)
    assert set(local.members) == {"hello-p2n"} and local.root_scripts == ("hello-p2n",)

    sources = plan_sources(request, inputs, resolved.selections, local)
    build = sources.builds.builds[("x86_64-linux", HELLO)]
    assert build.build_system.backend == "hatchling.build"
    assert set(sources.build_lock.resolutions) == {(("hatchling",), "3.11", "x86_64-linux")}

    for value in (inputs, selected, resolved, local, sources):
        assert dataclasses.is_dataclass(value)
        field = dataclasses.fields(value)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, None)


def test_plan_on_the_example_matches_the_committed_files(no_network: None) -> None:
    """The whole chain, offline, gives the committed bytes (the golden files)."""
    request = GenerateRequest(project_dir=EXAMPLE, online=False)
    files = plan(request, NoIndex()).files
    for path, content in files.items():
        assert (EXAMPLE / path).read_bytes() == content, path


def test_each_target_is_walked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    walked = []
    real_walk = select.walk

    def counting_walk(*args: object) -> object:
        walked.append(args[1])
        return real_walk(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(generate, "walk", counting_walk)
    result = plan(GenerateRequest(project_dir=EXAMPLE, online=False), NoIndex())
    assert len(walked) == 4 and len(set(walked)) == 4
    assert len(result.package_counts) == 4


def test_a_build_lock_without_resolutions_is_stale_offline(tmp_path: Path) -> None:
    """The edges refuse when not online (p2n check): they name what is missing."""
    project = copy_project(EXAMPLE, tmp_path / "hello")
    (project / "p2n" / "build-systems.toml").unlink()
    request = GenerateRequest(project_dir=project, settings=LINUX, online=False)
    inputs = read_inputs(request)
    selected = select_packages(inputs, request.settings, IndexEdge(request, NoIndex()))
    local = read_local_sources(request, inputs, selected.selections)
    with pytest.raises(StaleBuildLock, match=r"no resolution of \['hatchling'\]"):
        plan_sources(request, inputs, selected.selections, local)


def test_build_needs_adds_override_requirements_per_target() -> None:
    """Pure: which requirement set each system builds with, overrides' included."""
    request = GenerateRequest(project_dir=EXAMPLE, online=False)
    inputs = read_inputs(request)
    selected = select_packages(inputs, request.settings, IndexEdge(request, NoIndex()))
    override = dataclasses.replace(
        inputs.overrides,
        packages={
            HELLO: dataclasses.replace(
                inputs.overrides.package(HELLO), build_requires=("editables",)
            )
        },
    )
    needs = build_needs(
        selected.selections,
        override,
        {},
        {"hello-p2n": BuildSystem(("hatchling",), "hatchling.build")},
    )
    assert set(needs.users) == {("hatchling", "editables")}
    assert len(needs.users[("hatchling", "editables")]) == 4
    assert sources_to_learn(selected.selections, {"hello-p2n": EXAMPLE}) == ()


def test_a_uv_lock_run_imports_no_index_client_nor_resolver() -> None:
    """Import only what the command needs: the example's uv.lock has every URL."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from pyproject2nix.generate import GenerateRequest, plan\n"
        f"plan(GenerateRequest(project_dir=Path({str(EXAMPLE)!r}), online=False))\n"
        "print(sorted(m for m in sys.modules if m.startswith(('pyproject2nix.index',"
        " 'pyproject2nix.poetrylock', 'pyproject2nix.pylock', 'tempfile', 'shutil'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
