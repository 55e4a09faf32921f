"""The neutral model of a locked project, shared by every lock format.

Parsers (``uvlock``, ``poetrylock``, ``pylock``) build these frozen
dataclasses; selection and rendering read only these, never the lock files.
Names are PEP 503-normalised; versions, markers and tags are packaging's types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from pathlib import Path

from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import NormalizedName
from packaging.version import Version


class SourceKind(Enum):
    """Where a locked package comes from (uv's source types; Poetry maps onto them)."""

    REGISTRY = "registry"
    GIT = "git"
    URL = "url"
    PATH = "path"
    DIRECTORY = "directory"
    EDITABLE = "editable"
    VIRTUAL = "virtual"


@dataclass(frozen=True)
class GitSource:
    """A git dependency as pinned by the lock, checked (see :mod:`pyproject2nix.gitsource`)."""

    url: str
    """What git and Nix fetch: https://, ssh://, file://, without query or fragment."""
    rev: str
    """The full commit sha."""
    subdirectory: str | None = None
    ref: str | None = None
    """The tag, branch or rev the lock names (informational)."""

    @property
    def key(self) -> str:
        """Identity in the build-system lock."""
        sub = f"#{self.subdirectory}" if self.subdirectory else ""
        return f"git {self.url}@{self.rev}{sub}"


@dataclass(frozen=True)
class Source:
    """A package's origin: an index URL, a git URL, a direct URL or a local path."""

    kind: SourceKind
    location: str
    """As the lock writes it (shown, and matched against dependencies' ``source``)."""
    subdirectory: str | None = None
    """Where in a direct-URL archive the project lives (uv's ``subdirectory``)."""
    git: GitSource | None = None
    """The parsed, checked git source (``kind`` GIT only), parsed once by the lock reader."""

    def __post_init__(self) -> None:
        if (self.kind is SourceKind.GIT) != (self.git is not None):
            raise ValueError(f"{self.kind.value} source {self.location!r}: git is set iff GIT")

    @property
    def is_local(self) -> bool:
        """True for sources read from the project's own tree (paths, members)."""
        return self.kind in (
            SourceKind.PATH,
            SourceKind.DIRECTORY,
            SourceKind.EDITABLE,
            SourceKind.VIRTUAL,
        )


@dataclass(frozen=True)
class Artifact:
    """One downloadable file pinned by hash (a wheel or an sdist).

    ``url`` is "" when the lock names the file but not where it lives
    (poetry.lock): the package's index is asked for it after selection.
    ``sha256`` is "" when the lock has no usable hash (none, or md5 only).
    """

    url: str
    sha256: str
    filename: str
    size: int | None = None


@dataclass(frozen=True)
class Wheel(Artifact):
    """A wheel plus the tags its file name declares."""

    tags: frozenset[Tag] = frozenset()


@dataclass(frozen=True)
class Dependency:
    """An edge of the locked graph, active when ``marker`` holds for the target."""

    name: NormalizedName
    marker: Marker | None = None
    extras: tuple[str, ...] = ()
    version: Version | None = None
    source: str | None = None
    versions: tuple[Version, ...] = ()
    """When several locked versions satisfy the edge (poetry.lock) and ``version`` is None:
    those versions; selection takes the newest of them that fits the target."""


@dataclass(frozen=True)
class LockedPackage:
    """One package at one version, as the lock pins it."""

    name: NormalizedName
    version: Version | None
    source: Source
    wheels: tuple[Wheel, ...] = ()
    sdist: Artifact | None = None
    dependencies: tuple[Dependency, ...] = ()
    optional_dependencies: tuple[tuple[str, tuple[Dependency, ...]], ...] = ()
    dependency_groups: tuple[tuple[str, tuple[Dependency, ...]], ...] = ()
    resolution_markers: tuple[Marker, ...] = ()
    pinned_sha256: frozenset[str] = frozenset()
    """Hashes the lock allows when it names no files (requirements.txt, Pipfile.lock):
    the package's files are those its index lists with one of these sha256."""

    @property
    def key(self) -> str:
        """A human-readable identity, unique within a lock (name, version, source)."""
        version = str(self.version) if self.version is not None else "?"
        return f"{self.name} {version} ({self.source.kind.value} {self.source.location})"

    def extra(self, name: str) -> tuple[Dependency, ...]:
        """The dependencies an extra adds ((): the package has no such extra)."""
        return dict(self.optional_dependencies).get(name, ())

    def group(self, name: str) -> tuple[Dependency, ...]:
        """The dependencies of a dependency group ((): no such group)."""
        return dict(self.dependency_groups).get(name, ())


@dataclass(frozen=True)
class Lock:
    """A whole lock file: its packages and which of them are the project's own."""

    path: Path
    requires_python: SpecifierSet
    packages: tuple[LockedPackage, ...]
    root_names: tuple[NormalizedName, ...]
    """Workspace members / the project, in the order they are installed from."""
    root_groups: tuple[tuple[str, tuple[Dependency, ...]], ...] = field(default=())
    """Dependency groups of a workspace root that is not itself a package."""
    supported_markers: tuple[Marker, ...] = field(default=())
    """Environments the lock was resolved for (uv's ``environments``); () = all."""
    required_markers: tuple[Marker, ...] = field(default=())
    """Environments the lock must serve (uv's ``required-environments``): never left out."""
    default_groups: frozenset[str] | None = None
    """Groups installed unless deselected; None: the caller's default (uv: ``dev``)."""
    drift: tuple[str, ...] = field(default=())
    """How the lock disagrees with the pyproject.toml it was made from (() = it matches,
    or the format records nothing to compare); ``p2n generate`` refuses it unless --frozen."""
    one_platform: bool = False
    """Resolved for one platform the lock does not name (pip-compile): ``--system`` says which."""

    def by_name(self, name: NormalizedName) -> tuple[LockedPackage, ...]:
        """Every locked version of a package (several when the lock forks)."""
        return self._index.get(name, ())

    @cached_property
    def _index(self) -> dict[str, tuple[LockedPackage, ...]]:
        index: dict[str, list[LockedPackage]] = {}
        for package in self.packages:
            index.setdefault(package.name, []).append(package)
        return {name: tuple(found) for name, found in index.items()}
