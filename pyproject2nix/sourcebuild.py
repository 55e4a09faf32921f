"""Packages built from source: sdists and git checkouts, with pinned build systems.

For every selected package that has no wheel to install (an sdist chosen by
selection, a git source), find its ``[build-system]`` (recorded in the
build-system lock, else read from the downloaded sdist / fetched commit),
add the overrides' ``build-requires``, and resolve each distinct set of
build requirements to wheels for the targets that need it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import NormalizedName, parse_wheel_filename

from .buildlock import PinnedWheel, RecordedSource, Resolver
from .buildsystem import (
    BuildSystem,
    build_system_of_directory,
    build_system_of_sdist,
    download,
    local_file,
)
from .dynamicversion import RecordedVersion, backend_version, git_state, needs_backend_version
from .errors import InputError
from .gitsource import fetch_tree
from .model import GitSource, Lock, SourceKind
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


def plan_source_builds(
    lock: Lock,
    selections: list[Selection],
    overrides: Overrides,
    resolver: Resolver,
    member_dirs: Mapping[str, Path],
) -> SourceBuilds:
    """Build systems and environments of every package built from an sdist, git or locally.

    ``member_dirs``: the local packages (project, workspace members, path
    dependencies) by name; their ``[build-system]`` is read from disk each time.
    """
    where = str(lock.path)
    known: dict[str, tuple[BuildSystem, GitSource | None, str | None]] = {}
    users: dict[tuple[str, ...], list[Target]] = {}
    chosen: dict[tuple[str, NormalizedName], tuple[BuildSystem, GitSource | None, str | None]] = {}
    with tempfile.TemporaryDirectory(prefix="p2n-sources-") as scratch:
        for selection in selections:
            for selected in selection.packages:
                if selected.name in member_dirs:
                    key, git = f"local {selected.name}", None
                    if key not in known:
                        directory = member_dirs[selected.name]
                        where_member = str(directory / "pyproject.toml")
                        known[key] = (
                            build_system_of_directory(directory, where_member),
                            None,
                            None,
                        )
                elif not _needs_build(selected):
                    continue
                else:
                    key, git = _source_key(selected, where)
                if key not in known:
                    known[key] = _learn(
                        selected, key, git, resolver, Path(scratch), where, lock.path.parent
                    )
                build_system = known[key][0]
                extra = overrides.package(selected.name).build_requires
                requires = tuple(dict.fromkeys((*build_system.requires, *extra)))
                targets = users.setdefault(requires, [])
                if selection.target not in targets:
                    targets.append(selection.target)
                chosen[(selection.target.system.nix_system, selected.name)] = (
                    BuildSystem(requires, build_system.backend, build_system.backend_path),
                    known[key][1],
                    known[key][2],
                )
    environments: dict[str, dict[str, tuple[PinnedWheel, ...]]] = {}
    for requires, targets in sorted(users.items()):
        for system, wheels in resolver.wheels(requires, targets, where).items():
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
        for place, (build_system, git, nar_hash) in chosen.items()
    }
    return SourceBuilds(builds=builds, environments=environments)


def _is_native(wheel: PinnedWheel) -> bool:
    """A wheel with a platform tag: it may ship ELF programs or libraries."""
    _name, _version, _build, tags = parse_wheel_filename(wheel.filename)
    return any(tag.platform != "any" for tag in tags)


def _source_key(selected: SelectedPackage, where: str) -> tuple[str, GitSource | None]:
    if selected.sdist is not None:
        subdirectory = selected.package.source.subdirectory
        key = f"sdist sha256:{selected.sdist.sha256}"
        return (f"{key}#{subdirectory}" if subdirectory else key), None
    git = selected.package.source.git
    assert git is not None  # Source: a GIT source always carries its parsed GitSource
    return git.key, git


def _learn(
    selected: SelectedPackage,
    key: str,
    git: GitSource | None,
    resolver: Resolver,
    scratch: Path,
    where: str,
    lock_dir: Path,
) -> tuple[BuildSystem, GitSource | None, str | None]:
    """A source's build system (and NAR hash): recorded, else fetched now and recorded."""
    recorded = resolver.source(key)
    if recorded is not None:
        return recorded.build_system, git, recorded.nar_hash
    here = f"{where}: {selected.name} {selected.package.version}"
    if selected.sdist is not None:
        if not resolver.online:
            raise resolver.stale(f"{key} ({selected.name}) is not recorded")
        if selected.package.source.kind is SourceKind.PATH:
            path = local_file(lock_dir, selected.sdist.url, selected.sdist.sha256, here)
        else:
            path = download(
                selected.sdist.url, selected.sdist.sha256, scratch / selected.sdist.filename, here
            )
        build_system = build_system_of_sdist(path, here, selected.package.source.subdirectory)
        resolver.record_source(key, RecordedSource(build_system))
        return build_system, None, None
    assert git is not None
    if not resolver.online:
        raise resolver.stale(f"{key} ({selected.name}) is not recorded")
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
    resolver.record_source(key, RecordedSource(found[0], nar_hash))
    return found[0], git, nar_hash


def local_versions(
    members: Mapping[str, tuple[str, Path]], resolver: Resolver, where: str
) -> dict[str, str]:
    """The version of each local package whose pyproject.toml does not state it, by name.

    ``members``: name -> (path relative to the project, directory). Recorded versions are
    reused while ``git describe`` of HEAD is unchanged; otherwise the package's backend is
    asked (online), or the build lock is stale (``p2n check``).
    """
    versions: dict[str, str] = {}
    for name, (path, directory) in sorted(members.items()):
        if not needs_backend_version(directory):
            continue
        git = git_state(directory)
        recorded = resolver.version(path, git)
        if recorded is not None:
            versions[name] = recorded
            continue
        if not resolver.online:
            before = resolver.recorded_git(path)
            reason = (
                f"git HEAD moved ({before} -> {git})"
                if before is not None
                else "it is not recorded"
            )
            raise resolver.stale(
                f"the version of {name} comes from its build backend and {reason}"
            )
        here = f"{where}: {name} ({path})"
        build_system = build_system_of_directory(directory, str(directory / "pyproject.toml"))
        version = backend_version(directory, build_system, here)
        resolver.record_version(path, RecordedVersion(version, git))
        versions[name] = version
    return versions
