"""Packages built from source: sdists and git checkouts, with pinned build systems.

For every selected package that has no wheel to install (an sdist chosen by
selection, a git source), find its ``[build-system]`` (recorded in the
build-system lock, else read from the downloaded sdist / fetched commit),
add the overrides' ``build-requires``, and resolve each distinct set of
build requirements to wheels for the targets that need it.

Pure steps (:func:`sources_to_learn`, :func:`build_needs`, :func:`source_builds`)
alternate with the edges that may use the network or run programs, each named
and each refusing with :func:`stale` when ``online`` is False:
:func:`learn_sources` (download, git), :func:`resolve_environments` (uv lock),
:func:`local_versions` (git describe, the project's build backend).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import NormalizedName, parse_wheel_filename

from . import fsread
from .buildlock import BUILD_LOCK_FILE, PinnedWheel, RecordedSource, StaleBuildLock, resolve
from .buildsystem import (
    BuildSystem,
    build_system_of_directory,
    build_system_of_sdist,
    download,
    local_build_system,
    local_file,
)
from .dynamicversion import RecordedVersion, backend_version, git_state, needs_backend_version
from .errors import InputError
from .gitsource import fetch_tree
from .model import Artifact, GitSource, SourceKind
from .overrides import Overrides
from .select import SelectedPackage, Selection
from .targets import Target


@dataclass(frozen=True)
class SourceBuild:
    """How one package is built from source on one system."""

    build_system: BuildSystem
    requires_key: str
    """Names the build environment in the generated data (the requirements, joined)."""
    git: GitSource | None = None
    nar_hash: str | None = None
    native_requirements: bool = False
    """A build requirement is a wheel with native code (uv-build, ninja, cmake): its ELF
    files are patched in the build environment, so the build needs the native attributes."""


@dataclass(frozen=True)
class SourceBuilds:
    """Every source build of a generation, and the build environments they use."""

    builds: Mapping[tuple[str, NormalizedName], SourceBuild]
    """(nix system, package) -> build."""
    environments: Mapping[str, Mapping[str, tuple[PinnedWheel, ...]]]
    """nix system -> requires key -> wheels."""


def requires_key(requires: tuple[str, ...]) -> str:
    """A readable, stable name for a set of build requirements."""
    return " ; ".join(requires)


def _needs_build(selected: SelectedPackage) -> bool:
    return selected.sdist is not None or selected.package.source.kind is SourceKind.GIT


@dataclass(frozen=True)
class SourceToLearn:
    """A source whose ``[build-system]`` p2n must know: an sdist or a git commit."""

    key: str
    """Identity in the build-system lock."""
    label: str
    """``name version``, for messages."""
    sdist: Artifact | None
    git: GitSource | None
    subdirectory: str | None = None
    """Where in the sdist the project lives."""
    local: bool = False
    """The sdist is a file of the project's tree (a path source)."""


def sources_to_learn(
    selections: Sequence[Selection], members: Mapping[str, Path]
) -> tuple[SourceToLearn, ...]:
    """Every distinct sdist and git source some system builds, in order of first use."""
    found: dict[str, SourceToLearn] = {}
    for selection in selections:
        for selected in selection.packages:
            if selected.name in members or not _needs_build(selected):
                continue
            wanted = _to_learn(selected)
            found.setdefault(wanted.key, wanted)
    return tuple(found.values())


def _to_learn(selected: SelectedPackage) -> SourceToLearn:
    package = selected.package
    label = f"{package.name} {package.version}"
    if selected.sdist is not None:
        subdirectory = package.source.subdirectory
        key = f"sdist sha256:{selected.sdist.sha256}"
        return SourceToLearn(
            key=f"{key}#{subdirectory}" if subdirectory else key,
            label=label,
            sdist=selected.sdist,
            git=None,
            subdirectory=subdirectory,
            local=package.source.kind is SourceKind.PATH,
        )
    git = package.source.git
    assert git is not None  # Source: a GIT source always carries its parsed GitSource
    return SourceToLearn(key=git.key, label=label, sdist=None, git=git)


def stale(what: str) -> StaleBuildLock:
    """The error for something missing from the recorded build lock when offline."""
    return StaleBuildLock(
        f"p2n/{BUILD_LOCK_FILE}: {what}; run p2n generate (without --offline) to record it"
    )


def learn_sources(
    wanted: Sequence[SourceToLearn],
    recorded: Mapping[str, RecordedSource],
    *,
    online: bool,
    lock_path: Path,
) -> dict[str, RecordedSource]:
    """What each source's build system is: recorded, else learnt now (the network edge).

    Learning downloads an sdist (or reads a path source's file) or fetches a git
    commit; ``online`` False (``p2n check``, ``--offline``): a source not
    recorded is :func:`stale` instead.
    """
    learnt = {s.key: recorded[s.key] for s in wanted if s.key in recorded}
    missing = [s for s in wanted if s.key not in recorded]
    if missing and not online:
        raise stale(f"{missing[0].key} ({missing[0].label.split()[0]}) is not recorded")
    if missing:
        fsread.opaque("learnt build systems")  # recorded in p2n/build-systems.toml for next time
        import tempfile  # only to fetch what the build lock does not record

        with tempfile.TemporaryDirectory(prefix="p2n-sources-") as scratch:
            for source in missing:
                learnt[source.key] = _fetch_build_system(source, Path(scratch), lock_path)
    return {s.key: learnt[s.key] for s in wanted}


def _fetch_build_system(source: SourceToLearn, scratch: Path, lock_path: Path) -> RecordedSource:
    here = f"{lock_path}: {source.label}"
    if source.sdist is not None:
        if source.local:
            path = local_file(lock_path.parent, source.sdist.url, source.sdist.sha256, here)
        else:
            path = download(
                source.sdist.url, source.sdist.sha256, scratch / source.sdist.filename, here
            )
        return RecordedSource(build_system_of_sdist(path, here, source.subdirectory))
    git = source.git
    assert git is not None
    found: list[BuildSystem] = []

    def read(tree: Path) -> None:
        directory = tree / git.subdirectory if git.subdirectory else tree
        # A symlink in the repository (the subdirectory, pyproject.toml) must not make
        # p2n read, and quote in an error, a file of this machine.
        root = tree.resolve()
        for path in (directory, directory / "pyproject.toml"):
            resolved = path.resolve()
            if resolved != root and root not in resolved.parents:
                raise InputError(
                    f"{here} ({git.url}): {path.relative_to(tree)} is a symlink out of the "
                    "repository; p2n reads only the repository's own files"
                )
        found.append(build_system_of_directory(directory, f"{here} ({git.url})"))

    nar_hash = fetch_tree(git, here, read)
    return RecordedSource(found[0], nar_hash)


@dataclass(frozen=True)
class BuildNeeds:
    """Which package builds how on which system, and which systems need each requirement set."""

    chosen: Mapping[tuple[str, NormalizedName], tuple[BuildSystem, GitSource | None, str | None]]
    """(nix system, package) -> (build system with overrides, git source, NAR hash)."""
    users: Mapping[tuple[str, ...], tuple[Target, ...]]
    """Build requirements -> the targets that build with them."""


def build_needs(
    selections: Sequence[Selection],
    overrides: Overrides,
    learnt: Mapping[str, RecordedSource],
    member_systems: Mapping[str, BuildSystem],
) -> BuildNeeds:
    """Every package built from source, its requirements with the overrides' (pure).

    ``member_systems``: the build systems of local packages (project, workspace
    members, path dependencies) by name; ``learnt``: of sdists and git sources by key.
    """
    users: dict[tuple[str, ...], list[Target]] = {}
    chosen: dict[tuple[str, NormalizedName], tuple[BuildSystem, GitSource | None, str | None]]
    chosen = {}
    for selection in selections:
        for selected in selection.packages:
            git: GitSource | None = None
            nar_hash: str | None = None
            if selected.name in member_systems:
                build_system = member_systems[selected.name]
            elif not _needs_build(selected):
                continue
            else:
                wanted = _to_learn(selected)
                build_system, nar_hash = learnt[wanted.key].build_system, None
                if wanted.git is not None:
                    git, nar_hash = wanted.git, learnt[wanted.key].nar_hash
            extra = overrides.package(selected.name).build_requires
            requires = tuple(dict.fromkeys((*build_system.requires, *extra)))
            targets = users.setdefault(requires, [])
            if selection.target not in targets:
                targets.append(selection.target)
            chosen[(selection.target.system.nix_system, selected.name)] = (
                BuildSystem(requires, build_system.backend, build_system.backend_path),
                git,
                nar_hash,
            )
    return BuildNeeds(chosen, {requires: tuple(t) for requires, t in users.items()})


ResolutionKey = tuple[tuple[str, ...], str, str]
"""(build requirements, python "3.11", nix system)."""


def resolve_environments(
    users: Mapping[tuple[str, ...], Sequence[Target]],
    recorded: Mapping[ResolutionKey, tuple[PinnedWheel, ...]],
    *,
    online: bool,
    where: str,
) -> dict[ResolutionKey, tuple[PinnedWheel, ...]]:
    """The wheels of every build environment: recorded, else resolved by uv (the edge)."""
    result: dict[ResolutionKey, tuple[PinnedWheel, ...]] = {}
    for requires, targets in sorted(users.items()):
        python = f"{targets[0].python[0]}.{targets[0].python[1]}"
        missing = []
        for target in targets:
            key = (requires, python, target.system.nix_system)
            if key in recorded:
                result[key] = recorded[key]
            else:
                missing.append(target)
        if missing:
            if not online:
                systems = ", ".join(t.system.nix_system for t in missing)
                raise stale(f"no resolution of {list(requires)} for {systems}")
            for system, wheels in resolve(requires, missing, where).items():
                result[(requires, python, system)] = wheels
    return result


def source_builds(
    needs: BuildNeeds, resolutions: Mapping[ResolutionKey, tuple[PinnedWheel, ...]]
) -> SourceBuilds:
    """The builds and build environments the renderer writes (pure)."""
    environments: dict[str, dict[str, tuple[PinnedWheel, ...]]] = {}
    for (requires, _python, system), wheels in sorted(resolutions.items()):
        environments.setdefault(system, {})[requires_key(requires)] = wheels
    builds = {
        place: SourceBuild(
            build_system=build_system,
            requires_key=requires_key(build_system.requires),
            git=git,
            nar_hash=nar_hash,
            native_requirements=any(
                _is_native(wheel)
                for wheel in environments.get(place[0], {}).get(
                    requires_key(build_system.requires), ()
                )
            ),
        )
        for place, (build_system, git, nar_hash) in needs.chosen.items()
    }
    return SourceBuilds(builds=builds, environments=environments)


def _is_native(wheel: PinnedWheel) -> bool:
    """A wheel with a platform tag: it may ship ELF programs or libraries."""
    _name, _version, _build, tags = parse_wheel_filename(wheel.filename)
    return any(tag.platform != "any" for tag in tags)


def local_versions(
    members: Mapping[str, tuple[str, Path]],
    recorded: Mapping[str, RecordedVersion],
    *,
    online: bool,
    where: str,
) -> dict[str, RecordedVersion]:
    """The version of each local package whose pyproject.toml does not state it, by path.

    ``members``: name -> (path relative to the project, directory). Recorded versions are
    reused while ``git describe`` of HEAD is unchanged; otherwise the package's backend is
    asked (online: the subprocess edge), or the build lock is stale (``p2n check``).
    """
    versions: dict[str, RecordedVersion] = {}
    for name, (path, directory) in sorted(members.items()):
        if not needs_backend_version(directory):
            continue
        git = git_state(directory)
        found = recorded.get(path)
        if found is not None and found.git == git:
            versions[path] = found
            continue
        if not online:
            reason = (
                f"git HEAD moved ({found.git} -> {git})"
                if found is not None
                else "it is not recorded"
            )
            raise stale(f"the version of {name} comes from its build backend and {reason}")
        here = f"{where}: {name} ({path})"
        build_system = local_build_system(directory)
        versions[path] = RecordedVersion(backend_version(directory, build_system, here), git)
    return versions
