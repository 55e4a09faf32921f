"""``p2n generate``: lock file in, rendered files out.

The one place that wires the pipeline together, as a chain of stages, each a
function from frozen values to a frozen value: read the project and its lock
(:func:`read_inputs`), select packages and files for every system
(:func:`select_packages`), resolve URLs the lock lacks (:func:`resolve_files`),
read local sources (:func:`read_local_sources`), plan source builds
(:func:`plan_sources`) and render (:func:`render_plan`); the CLI writes. The
network and subprocesses sit at named edges: :class:`IndexEdge` and the
edges of :mod:`pyproject2nix.sourcebuild`. Nothing here formats Nix or parses
TOML itself; the checks live in :mod:`pyproject2nix.inputcheck`, lock finding
and reading in :mod:`pyproject2nix.lockfiles`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import fsread
from .buildlock import BUILD_LOCK_FILE, BuildLock, read_build_lock
from .buildsystem import local_build_system
from .errors import InputError
from .inputcheck import (
    check_inside,
    check_local_files,
    check_names,
    check_preferences,
    check_project_name,
    git_notes,
    read_members,
    read_python_version,
)
from .layout import OUTPUT_DIR
from .lockfiles import LockDriftError, find_locks, read_lock
from .model import Lock, LockedPackage, SourceKind
from .overrides import OVERRIDES_FILE, Overrides, read_overrides
from .project import LocalProject, read_project
from .render import LocalMember, RenderInput, render_files
from .request import GeneratePlan as GeneratePlan
from .request import GenerateRequest as GenerateRequest
from .request import LeftOut
from .select import (
    Selection,
    Walk,
    candidate_targets,
    check_options,
    check_selection,
    choose_systems,
    walk,
)
from .settings import Settings
from .sourcebuild import (
    SourceBuilds,
    build_needs,
    learn_sources,
    local_versions,
    resolve_environments,
    source_builds,
    sources_to_learn,
)
from .sourceroot import find_source_root
from .targets import Target, default_python, parse_python, parse_systems
from .tomlfile import load_toml

if TYPE_CHECKING:
    from .index import IndexClient


def choose_python(request: GenerateRequest, lock: Lock, project: LocalProject) -> tuple[int, int]:
    """--python, else .python-version, else the oldest nixpkgs CPython allowed."""
    requires = lock.requires_python if str(lock.requires_python) else project.requires_python
    pinned_file = request.project_dir / ".python-version"
    if request.settings.python is not None:
        chosen = parse_python(request.settings.python, request.flag("--python"))
    elif fsread.is_file(pinned_file):
        text = read_python_version(pinned_file)
        chosen = parse_python(".".join(text.split(".")[:2]), str(pinned_file))
    elif requires is not None:
        return default_python(requires, str(lock.path))
    else:
        return parse_python("3.12")
    full = f"{chosen[0]}.{chosen[1]}.99"
    if requires is not None and not requires.contains(full, prereleases=True):
        raise InputError(
            f"{lock.path}: CPython {chosen[0]}.{chosen[1]} is outside requires-python "
            f"{requires}; choose another --python"
        )
    return chosen


def _notes(trusted: tuple[str, ...], allowed: list[str]) -> tuple[str, ...]:
    """Warning comments for the generated data: what only an opt-in flag let through."""
    notes: list[str] = []
    if trusted:
        notes.append(
            "WARNING: sha256 hashes taken from the package index, not from the lock "
            "(--trust-index-hashes):"
        )
        notes.extend(f"  {line}" for line in trusted)
    if allowed:
        notes.append("WARNING: files fetched against the default policy:")
        notes.extend(f"  {line}" for line in allowed)
    return tuple(notes)


@dataclass(frozen=True)
class Inputs:
    """Stage 1, read: the project, its lock and the rest of what shapes the output."""

    project: LocalProject
    lock: Lock
    lock_path: Path
    other_locks: tuple[str, ...]
    """Lock files found but not read (another format took precedence)."""
    python: tuple[int, int]
    targets: tuple[Target, ...]
    unsupported: tuple[LeftOut, ...]
    """Default systems outside the lock's supported markers."""
    overrides: Overrides
    input_digests: Mapping[str, str]
    """sha256 of the input files, recorded so ``p2n check`` can say which one changed."""


def read_inputs(request: GenerateRequest) -> Inputs:
    """Read and check pyproject.toml, the lock and the overrides (files only, no network)."""
    settings = request.settings
    project_dir = request.project_dir
    root = fsread.resolve(project_dir)
    for name in ("pyproject.toml", OVERRIDES_FILE, ".python-version"):
        check_inside(project_dir / name, root)
    project = read_project(project_dir)
    check_project_name(project)
    locks = find_locks(project_dir, request.lock_file, request.flag("--lock"))
    lock_path = locks[0]
    check_inside(lock_path, root)
    lock = read_lock(lock_path, project)
    if not lock.root_names:
        if project.name is None:
            # uv locks only the dependencies of such a project, never the project itself.
            raise InputError(
                f"{lock_path}: no project package in the lock: {project.directory}/pyproject.toml "
                "has no [project] table (metadata only in setup.py?); add [project] with name, "
                "version and dependencies, then run `uv lock`"
            )
        raise InputError(f"{lock_path}: no project package in the lock; run `uv lock`")
    if lock.drift and not request.frozen:
        raise LockDriftError(lock)
    python = choose_python(request, lock, project)
    check_options(lock, settings.options)
    targets, unsupported = candidate_targets(lock, parse_systems(settings.systems), python)
    overrides = read_overrides(project_dir, load_toml(project_dir / "pyproject.toml"))
    locked = {p.name for p in lock.packages}
    overrides.check_names(locked, lock_path.name)
    check_preferences(settings.options, locked, lock_path)
    inputs = [lock_path, project_dir / "pyproject.toml"]
    if fsread.is_file(project_dir / OVERRIDES_FILE):
        inputs.append(project_dir / OVERRIDES_FILE)
    return Inputs(
        project=project,
        lock=lock,
        lock_path=lock_path,
        other_locks=tuple(p.name for p in locks[1:]),
        python=python,
        targets=targets,
        unsupported=unsupported,
        overrides=overrides,
        input_digests={path.name: fsread.digest(fsread.read_bytes(path)) for path in inputs},
    )


@dataclass(frozen=True)
class Selected:
    """Stage 2, select: per kept system the packages and their files (URLs may be missing)."""

    selections: tuple[Selection, ...]
    left_out: tuple[LeftOut, ...]
    """Systems generated by default that the lock cannot serve, and why."""
    trusted: tuple[str, ...]
    """Packages whose files (and hashes) only the index gave (``--trust-index-hashes``)."""


def select_packages(inputs: Inputs, settings: Settings, index: IndexEdge) -> Selected:
    """Walk the lock once per target, then choose each package's file.

    The index is asked (the edge) only for packages the lock lists without any
    file and some target installs; they are chosen from what it lists.
    """
    lock = inputs.lock
    walks = tuple(walk(lock, target, settings.options) for target in inputs.targets)
    completed, trusted = _complete_files(lock, walks, index, settings.trust_index_hashes)
    chosen = choose_systems(
        lock, walks, settings.options, strict=bool(settings.systems), completed=completed
    )
    left_out = tuple(sorted((*inputs.unsupported, *chosen.left_out), key=lambda o: o.system))
    return Selected(chosen.selections, left_out, trusted)


def _complete_files(
    lock: Lock, walks: Sequence[Walk], index: IndexEdge, trust_index_hashes: bool
) -> tuple[dict[str, LockedPackage], tuple[str, ...]]:
    """Packages the lock lists without files, by key, with their index's files."""
    needed = [
        p
        for walked in walks
        for p in walked.packages
        if p.source.kind is SourceKind.REGISTRY and not p.wheels and p.sdist is None
    ]
    if not needed:
        return {}, ()
    from .index import fill_missing_files

    filled, trusted = fill_missing_files(lock, needed, index.client(), trust_index_hashes)
    completed = {
        new.key: new
        for old, new in zip(lock.packages, filled.packages, strict=True)
        if old is not new
    }
    return completed, trusted


def _complete(selection: Selection) -> bool:
    return all(
        artifact is None or (artifact.url and artifact.sha256)
        for selected in selection.packages
        for artifact in (selected.wheel, selected.sdist)
    )


class IndexEdge:
    """The network edge to package indexes, connected on first use.

    Most uv.lock runs never ask an index; they do not import or set up the client.
    """

    def __init__(self, request: GenerateRequest, client: IndexClient | None = None) -> None:
        self._request = request
        self._client = client

    def client(self) -> IndexClient:
        """The client (made now if this is the first question)."""
        if self._client is None:
            from .index import IndexClient

            request = self._request
            self._client = IndexClient(
                request.cache_dir, offline=request.offline, progress=request.progress
            )
        return self._client

    @property
    def requests(self) -> int:
        """Pages requested from indexes."""
        return self._client.requests if self._client is not None else 0

    @property
    def from_cache(self) -> int:
        """Pages (or versions) answered by the cache."""
        return self._client.from_cache if self._client is not None else 0


@dataclass(frozen=True)
class Resolved:
    """Stage 3, resolve URLs: every chosen file with a URL and sha256, checked by policy."""

    selections: tuple[Selection, ...]
    resolved_files: int
    """Files whose URL (or hash) package indexes gave."""
    trusted: tuple[str, ...]
    """Files whose sha256 came from an index (``--trust-index-hashes``)."""
    allowed: tuple[str, ...]
    """Files and git sources only an opt-in (``--allow-*``) let through."""


def resolve_files(
    inputs: Inputs, selected: Selected, settings: Settings, index: IndexEdge
) -> Resolved:
    """Ask the files' indexes (the edge) for URLs the lock lacks; apply the URL policy."""
    lock = inputs.lock
    selections, resolved_files = selected.selections, 0
    trusted: tuple[str, ...] = ()
    if not all(_complete(selection) for selection in selected.selections):
        from .index import resolve_urls

        resolution = resolve_urls(
            lock, selected.selections, index.client(), settings.trust_index_hashes
        )
        selections, resolved_files = resolution.selections, resolution.resolved
        trusted = resolution.trusted
    allowed = sorted(
        {
            note
            for selection in selections
            for note in check_selection(lock, selection, settings.policy)
        }
    )
    allowed += git_notes(lock, selections, settings.policy)
    return Resolved(
        selections=selections,
        resolved_files=resolved_files,
        trusted=(*selected.trusted, *trusted),
        allowed=tuple(allowed),
    )


@dataclass(frozen=True)
class LocalSources:
    """Stage 4, local sources: the project's own packages that some system installs."""

    members: Mapping[str, LocalMember]
    root_scripts: tuple[str, ...]
    """Console scripts of the project's roots (``nix run``)."""


def read_local_sources(
    request: GenerateRequest, inputs: Inputs, selections: Sequence[Selection]
) -> LocalSources:
    """Read local packages' pyproject.toml; check local files and names (files only)."""
    lock = inputs.lock
    source_root = find_source_root(
        request.project_dir, request.settings.root_dir(request.project_dir)
    )
    members = read_members(source_root, lock, selections)
    check_local_files(source_root, lock, selections)
    check_names(lock, selections, members)
    root_scripts = sorted(
        {
            script
            for name in lock.root_names
            if name in members
            for script, _ in members[name].project.scripts
        }
    )
    return LocalSources(members, tuple(root_scripts))


@dataclass(frozen=True)
class SourcePlan:
    """Stage 5, source builds: build systems, environments and versions computed by backends."""

    builds: SourceBuilds
    versions: Mapping[str, str]
    """Versions of local packages their build backend computed, by name."""
    build_lock: BuildLock
    """What this generation used of ``p2n/build-systems.toml`` (and learnt): written back."""


def plan_sources(
    request: GenerateRequest,
    inputs: Inputs,
    selections: Sequence[Selection],
    local: LocalSources,
) -> SourcePlan:
    """Build systems (recorded, else learnt), their wheels (recorded, else uv), versions.

    The edges (download, git, uv, the project's backend) run only for what
    ``p2n/build-systems.toml`` does not record, and only when ``online``.
    """
    recorded = read_build_lock(request.project_dir / OUTPUT_DIR / BUILD_LOCK_FILE)
    online = request.online and not request.offline
    where = str(inputs.lock_path)
    member_dirs = {name: member.project.directory for name, member in local.members.items()}
    learnt = learn_sources(
        sources_to_learn(selections, member_dirs),
        recorded.sources,
        online=online,
        lock_path=inputs.lock_path,
    )
    member_systems = {name: local_build_system(path) for name, path in member_dirs.items()}
    needs = build_needs(selections, inputs.overrides, learnt, member_systems)
    resolutions = resolve_environments(
        needs.users, recorded.resolutions, online=online, where=where
    )
    versions = local_versions(
        {name: (member.path, member.project.directory) for name, member in local.members.items()},
        recorded.versions,
        online=online,
        where=where,
    )
    return SourcePlan(
        builds=source_builds(needs, resolutions),
        versions={
            name: versions[member.path].version
            for name, member in local.members.items()
            if member.path in versions
        },
        build_lock=BuildLock(sources=learnt, resolutions=resolutions, versions=versions),
    )


def render_plan(
    request: GenerateRequest,
    inputs: Inputs,
    resolved: Resolved,
    left_out: tuple[LeftOut, ...],
    local: LocalSources,
    sources: SourcePlan,
) -> dict[str, bytes]:
    """Stage 6, render: every generated file, by path (pure)."""
    return render_files(
        RenderInput(
            # Not the directory's name: output must not depend on where the checkout lives.
            project=inputs.project.name or inputs.lock.root_names[0],
            lock_file=inputs.lock_path.name,
            python_attr=resolved.selections[0].target.python_attr,
            selections=resolved.selections,
            members=local.members,
            input_digests=inputs.input_digests,
            notes=_notes(resolved.trusted, list(resolved.allowed)),
            settings=request.settings,
            root_scripts=local.root_scripts,
            overrides=inputs.overrides,
            source_builds=sources.builds,
            build_lock=None if sources.build_lock.is_empty() else sources.build_lock.render(),
            versions=sources.versions,
            left_out=left_out,
        )
    )


def plan(request: GenerateRequest, index: IndexClient | None = None) -> GeneratePlan:
    """Compute every generated file for ``request`` without writing anything.

    A chain of stages, each a function of frozen values (read, select, resolve
    URLs, local sources, source builds, render). ``index``: where file URLs the
    lock lacks come from (default: package indexes, through the cache).
    """
    client = IndexEdge(request, index)
    inputs = read_inputs(request)
    selected = select_packages(inputs, request.settings, client)
    resolved = resolve_files(inputs, selected, request.settings, client)
    local = read_local_sources(request, inputs, resolved.selections)
    sources = plan_sources(request, inputs, resolved.selections, local)
    files = render_plan(request, inputs, resolved, selected.left_out, local, sources)
    builds = sources.builds.builds
    counts = {
        s.target.system.nix_system: sum(
            1
            for p in s.packages
            if p.wheel is not None
            or p.name in local.members
            or (s.target.system.nix_system, p.name) in builds
        )
        for s in resolved.selections
    }
    return GeneratePlan(
        files=files,
        python=inputs.python,
        package_counts=counts,
        lock_path=inputs.lock_path,
        other_locks=inputs.other_locks,
        resolved_files=resolved.resolved_files,
        index_requests=client.requests,
        index_cached=client.from_cache,
        trusted=resolved.trusted,
        drift=inputs.lock.drift,
        left_out=selected.left_out,
    )
