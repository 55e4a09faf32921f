"""The generate cache (memo.py, fsread.py): warm gives the cold bytes; input changes are seen."""

from __future__ import annotations

import builtins
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pyproject2nix import fsread, memo
from pyproject2nix.generate import GeneratePlan, GenerateRequest, plan
from pyproject2nix.settings import Settings
from tests.helpers import UV_FIXTURES, copy_project, run_p2n
from tests.support.index import LoopbackIndex


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


class Counting:
    """``plan`` that counts how often the generate cache had to run it."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, request: GenerateRequest) -> GeneratePlan:
        self.runs += 1
        return plan(request)


def _fields(result: GeneratePlan) -> dict[str, Any]:
    """What a run reports, less how it got there (index counts, whether it was cached)."""
    return {
        "files": result.files,
        "python": result.python,
        "counts": result.package_counts,
        "lock": result.lock_path,
        "other": result.other_locks,
        "resolved": result.resolved_files,
        "trusted": result.trusted,
        "drift": result.drift,
        "left_out": result.left_out,
    }


def _uv_project(fixture: str, target: Path) -> Path:
    """A copy of a uv fixture with its build lock (a run that learns build systems is not kept)."""
    project = copy_project(UV_FIXTURES / fixture, target)
    build_lock = plan(GenerateRequest(project_dir=project)).files.get("p2n/build-systems.toml")
    if build_lock is not None:
        (project / "p2n").mkdir(exist_ok=True)
        (project / "p2n" / "build-systems.toml").write_bytes(build_lock)
    return project


def _entries(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "p2n" / "generate").glob("*.marshal"))


@pytest.mark.parametrize("fixture", ["large", "workspace", "medium", "forks", "conflicts"])
def test_warm_gives_the_cold_result(tmp_path: Path, fixture: str) -> None:
    project = _uv_project(fixture, tmp_path / fixture)
    request = GenerateRequest(project_dir=project)
    compute = Counting()
    cold = memo.cached_plan(request, compute)
    warm = memo.cached_plan(request, compute)
    assert compute.runs == 1 and not cold.from_cache and warm.from_cache
    assert _fields(warm) == _fields(cold) == _fields(plan(request))
    assert len(_entries(tmp_path)) == 1


def test_cli_cold_and_warm_write_identical_trees(tmp_path: Path) -> None:
    trees = []
    for name in ("cold", "warm"):
        project = _uv_project("workspace", tmp_path / name)
        result = run_p2n("generate", "--project", str(project))
        assert result.returncode == 0, result.stderr
        trees.append(
            {
                p.relative_to(project).as_posix(): p.read_bytes()
                for p in sorted(project.rglob("*"))
                if p.is_file()
            }
        )
    # The second project has other paths: its own entry (the working tree is part of the key).
    assert trees[0] == trees[1]
    again = run_p2n("generate", "--project", str(tmp_path / "warm"))
    assert again.returncode == 0 and "generated files are up to date" in again.stdout


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


CHANGES: dict[str, Callable[[Path], object]] = {
    "lock": lambda p: _edit(p / "uv.lock", 'version = "0.1.0"', 'version = "0.1.1"'),
    "pyproject": lambda p: _edit(p / "pyproject.toml", "[project]", "[project]\ndescription = 'x'"),
    "member pyproject": lambda p: _edit(
        p / "packages" / "libb" / "pyproject.toml", "[project]", "[project]\ndescription = 'y'"
    ),
    "member scripts": lambda p: _edit(
        p / "packages" / "libb" / "pyproject.toml",
        "[project]",
        '[project.scripts]\nlibb-tool = "libb:main"\n\n[project]',
    ),
    "overrides file": lambda p: (p / "p2n.toml").write_text('[package.liba]\nenv = { A = "1" }\n'),
    "python pin": lambda p: (p / ".python-version").write_text("3.12\n"),
    "src layout": lambda p: shutil.rmtree(p / "packages" / "liba" / "src" / "liba"),
    "build lock": lambda p: (p / "p2n" / "build-systems.toml").unlink(),
    "another lock": lambda p: (p / "requirements.txt").write_text("# nothing\n"),
    "new member": lambda p: shutil.copytree(p / "packages" / "libb", p / "packages" / "libc"),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_each_input_change_is_seen(tmp_path: Path, change: str) -> None:
    project = _uv_project("workspace", tmp_path / "workspace")
    request = GenerateRequest(project_dir=project, frozen=True, online=False)
    compute = Counting()
    memo.cached_plan(request, compute)
    CHANGES[change](project)
    try:
        fresh: GeneratePlan | Exception = plan(request)
    except Exception as exc:
        fresh = exc
    if isinstance(fresh, Exception):
        with pytest.raises(type(fresh), match=None):
            memo.cached_plan(request, compute)
        assert compute.runs == 2
        return
    again = memo.cached_plan(request, compute)
    assert compute.runs == 2 and not again.from_cache
    assert _fields(again) == _fields(fresh)
    assert memo.cached_plan(request, compute).from_cache and compute.runs == 2


def test_settings_and_p2n_itself_are_part_of_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _uv_project("medium", tmp_path / "medium")
    compute = Counting()
    memo.cached_plan(GenerateRequest(project_dir=project), compute)
    linux = GenerateRequest(project_dir=project, settings=Settings(systems=("x86_64-linux",)))
    only_linux = memo.cached_plan(linux, compute)
    assert compute.runs == 2 and set(only_linux.package_counts) == {"x86_64-linux"}
    monkeypatch.setattr(memo, "code_stamp", lambda: "another p2n")
    assert not memo.cached_plan(linux, compute).from_cache and compute.runs == 3


def test_code_stamp_follows_p2n_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = memo.code_stamp()
    module = Path(memo.__file__)
    stat = module.stat()
    os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    try:
        assert memo.code_stamp() != before
    finally:
        os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert memo.code_stamp() == before


@pytest.mark.parametrize("damage", [b"", b"\x00garbage", b"\xe3\x01\x00\x00\x00"])
def test_a_damaged_entry_is_a_miss_and_rewritten(tmp_path: Path, damage: bytes) -> None:
    project = _uv_project("medium", tmp_path / "medium")
    request = GenerateRequest(project_dir=project)
    compute = Counting()
    cold = memo.cached_plan(request, compute)
    (entry,) = _entries(tmp_path)
    entry.write_bytes(damage)
    again = memo.cached_plan(request, compute)
    assert compute.runs == 2 and not again.from_cache and _fields(again) == _fields(cold)
    assert entry.read_bytes() != damage
    assert memo.cached_plan(request, compute).from_cache and compute.runs == 2


def test_an_entry_of_another_shape_is_a_miss(tmp_path: Path) -> None:
    import marshal

    project = _uv_project("medium", tmp_path / "medium")
    request = GenerateRequest(project_dir=project)
    compute = Counting()
    memo.cached_plan(request, compute)
    (entry,) = _entries(tmp_path)
    key, notes, plain = marshal.loads(entry.read_bytes())
    entry.write_bytes(marshal.dumps((key, notes, plain[:3])))
    assert not memo.cached_plan(request, compute).from_cache and compute.runs == 2
    entry.write_bytes(marshal.dumps((key, notes, (1, *plain[1:]))))
    assert not memo.cached_plan(request, compute).from_cache and compute.runs == 3


def test_a_cache_that_cannot_be_written_costs_only_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _uv_project("medium", tmp_path / "medium")
    (tmp_path / "blocked").write_text("a file where the cache directory would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "blocked"))
    request = GenerateRequest(project_dir=project)
    compute = Counting()
    first = memo.cached_plan(request, compute)
    second = memo.cached_plan(request, compute)
    assert compute.runs == 2 and _fields(first) == _fields(second)


def test_runs_that_used_more_than_files_are_not_stored(tmp_path: Path) -> None:
    project = _uv_project("medium", tmp_path / "medium")
    request = GenerateRequest(project_dir=project)

    def networked(request: GenerateRequest) -> GeneratePlan:
        fsread.opaque("asked a package index")
        return plan(request)

    memo.cached_plan(request, networked)
    assert _entries(tmp_path) == []


def test_versions_from_git_are_not_stored(tmp_path: Path) -> None:
    """setup.py packages get their version from the backend, reused while git HEAD stays."""
    project = _uv_project("setup-py-paths", tmp_path / "setup-py-paths")
    compute = Counting()
    memo.cached_plan(GenerateRequest(project_dir=project), compute)
    assert _entries(tmp_path) == []


def test_failed_runs_are_not_stored(tmp_path: Path) -> None:
    project = _uv_project("medium", tmp_path / "medium")
    _edit(project / "uv.lock", "[[package]]", "[[package]]\nbroken = ")
    with pytest.raises(Exception):  # noqa: B017 - whichever error the reader gives
        memo.cached_plan(GenerateRequest(project_dir=project), plan)
    assert _entries(tmp_path) == []


def test_poetry_warm_run_asks_no_index(tmp_path: Path, loopback_index: LoopbackIndex) -> None:
    from tests.test_poetry_generate import _project

    project = _project(tmp_path, "loopback-2.1", loopback_index)
    first = run_p2n("generate", "--project", str(project))
    assert first.returncode == 0 and "2 requests" in first.stdout  # asked: not stored
    second = run_p2n("generate", "--project", str(project))
    assert second.returncode == 0 and "0 requests, 2 pages from cache" in second.stdout
    third = run_p2n("generate", "--project", str(project))
    assert third.returncode == 0 and "as the last run found them" in third.stdout
    assert "up to date" in third.stdout


# -- every file-system question goes through fsread ---------------------------------------


def _covered(path: str, listed: bool, notes: list[fsread.Note]) -> bool:
    """Whether a note answers for what the process did to ``path``.

    ``listed``: the directory was listed; only a glob from it or above it or a
    listing of it answers for that. A stat, open or readlink is answered by any question about
    the path, a listing of its directory, or resolving a path below it.
    """
    for question, noted, _answer in notes:
        if question == "glob":
            directory, _, pattern = noted.partition("\0")
            if path == directory:
                return True
            if path.startswith(directory + os.sep):
                # packages/* lists packages/ too: as deep as the pattern has parts
                depth = len(Path(os.path.relpath(path, directory)).parts)
                parts = Path(pattern).parts
                if "**" in parts or depth < len(parts):
                    return True
        elif question == "list" and (path == noted or os.path.dirname(path) == noted):
            return True
        elif listed:
            continue
        elif path == noted:
            return True
        elif question == "resolve" and (noted + os.sep).startswith(path + os.sep):
            return True  # resolving a path looks at each of its ancestors
    return False


@pytest.mark.parametrize("fixture", ["workspace", "setup-py-paths", "large"])
def test_every_read_of_the_project_is_noted(
    tmp_path: Path, fixture: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _uv_project(fixture, tmp_path / "tree" / fixture)
    (project / ".python-version").write_text("3.12\n")
    plan(GenerateRequest(project_dir=project))  # warm the TOML cache: its reads are not inputs
    paths: set[tuple[str, bool]] = set()
    for name in ("stat", "lstat", "scandir", "listdir", "readlink"):
        original = getattr(os, name)

        def spy(
            path: Any = ".", *args: Any, _original: Any = original, _name: str = name, **kwargs: Any
        ) -> Any:
            if isinstance(path, (str, os.PathLike)):
                listed = _name in ("scandir", "listdir")
                paths.add((os.path.abspath(os.fspath(path)), listed))
            return _original(path, *args, **kwargs)

        monkeypatch.setattr(os, name, spy)
    real_open = builtins.open

    def spy_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, os.PathLike)):
            paths.add((os.path.abspath(os.fspath(file)), False))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy_open)
    import io

    monkeypatch.setattr(io, "open", spy_open)
    with fsread.observing() as seen:
        plan(GenerateRequest(project_dir=project))
    monkeypatch.undo()
    tree = str(tmp_path / "tree")
    inside = sorted(p for p in paths if p[0] == tree or p[0].startswith(tree + os.sep))
    assert any(listed for _, listed in inside), "no listing seen: the spies do not work"
    missed = [p for p in inside if not _covered(*p, seen.notes)]
    assert missed == []


def test_without_a_working_directory_it_runs_uncached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _uv_project("medium", tmp_path / "medium")
    compute = Counting()

    def gone() -> str:
        raise FileNotFoundError("the working directory was removed")

    monkeypatch.setattr(os, "getcwd", gone)
    first = memo.cached_plan(GenerateRequest(project_dir=project), compute)
    assert compute.runs == 1 and not first.from_cache and _entries(tmp_path) == []


def test_a_symlink_loop_appearing_is_a_miss(tmp_path: Path) -> None:
    project = _uv_project("workspace", tmp_path / "workspace")
    request = GenerateRequest(project_dir=project)
    compute = Counting()
    memo.cached_plan(request, compute)
    shutil.rmtree(project / "packages" / "liba")
    (project / "packages" / "liba").symlink_to(project / "packages" / "liba")
    with pytest.raises(Exception):  # noqa: B017 - whatever a cold run says of the loop
        plan(request)
    with pytest.raises(Exception):  # noqa: B017 - the cache does not answer instead
        memo.cached_plan(request, compute)
    assert compute.runs == 2


def test_a_noted_path_that_became_a_symlink_loop_is_changed(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    with fsread.observing() as seen:
        fsread.resolve(tmp_path / "a" / "x")
        fsread.is_dir(tmp_path / "a")
    assert fsread.unchanged(seen.notes)
    (tmp_path / "a").rmdir()
    (tmp_path / "a").symlink_to(tmp_path / "a")
    assert not fsread.unchanged(seen.notes)
