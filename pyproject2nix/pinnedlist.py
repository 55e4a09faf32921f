"""What requirements.txt and Pipfile.lock share: flat lists of pins with hashes, no file names.

Both formats list every package once with an exact version, an optional
marker and the sha256 of each file the installer may use, but neither names
the files or says how packages depend on each other. So, as for pylock.toml,
the model gets one root (the project) that depends on every pin under that
pin's marker, and each registry pin carries its hashes
(:attr:`~pyproject2nix.model.LockedPackage.pinned_sha256`); the files are
found on the index after selection, by hash (``pyproject2nix.index``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from . import fsread
from .errors import InputError
from .model import Artifact, Dependency, Lock, LockedPackage, Source, SourceKind
from .tomlfile import load_toml

PYPI_SIMPLE = "https://pypi.org/simple"
MAIN = ""
"""The group name of the project's own dependencies (not a dependency group)."""


@dataclass(frozen=True)
class Pin:
    """One entry of a flat lock: a package pinned to a version (or a source) in a group."""

    package: LockedPackage
    marker: Marker | None = None
    extras: tuple[str, ...] = ()
    group: str = MAIN


def pinned_version(text: str, where: str) -> Version:
    """``==1.2.3`` (or ``===1.2.3``) → Version; anything looser is not a lock."""
    for operator in ("===", "=="):
        if text.startswith(operator):
            try:
                return Version(text[len(operator) :].strip())
            except InvalidVersion:
                break
    raise InputError(
        f"{where}: {text!r} is not an exact version (==X.Y); lock the project again "
        "with the tool that wrote the file"
    )


def sha256_hashes(values: Iterable[str], where: str, fix: str) -> frozenset[str]:
    """The ``sha256:<hex>`` entries of a hash list (md5 and others ignored); none: an error."""
    found = set()
    for value in values:
        algorithm, _, digest = value.partition(":")
        if algorithm.lower() == "sha256":
            digest = digest.lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise InputError(f"{where}: {value!r} is not a sha256 hash; {fix}")
            found.add(digest)
    if not found:
        raise InputError(f"{where}: no sha256 hash, so p2n cannot pin its files; {fix}")
    return frozenset(found)


def registry_package(
    name: str, version: Version, index: str, hashes: frozenset[str]
) -> LockedPackage:
    """A pin served by a package index, its files known only by their hashes."""
    return LockedPackage(
        name=canonicalize_name(name),
        version=version,
        source=Source(SourceKind.REGISTRY, index.rstrip("/")),
        pinned_sha256=hashes,
    )


def url_package(name: str, url: str, artifact: Artifact) -> LockedPackage:
    """A pin to one file at a direct URL."""
    from .model import Wheel

    return LockedPackage(
        name=canonicalize_name(name),
        version=None,
        source=Source(SourceKind.URL, url),
        wheels=(artifact,) if isinstance(artifact, Wheel) else (),
        sdist=None if isinstance(artifact, Wheel) else artifact,
    )


def project_root(lock_path: Path, project_name: str | None) -> LockedPackage:
    """The project the pins are for: built from its own directory if it has a build system.

    Like uv.lock's ``editable = "."`` root (installed, so its scripts run) or
    ``virtual = "."`` (a project without ``[build-system]``: its dependencies only).
    """
    pyproject = lock_path.parent / "pyproject.toml"
    buildable = fsread.is_file(pyproject) and "build-system" in load_toml(pyproject)
    name = canonicalize_name(project_name or fsread.resolve(lock_path.parent).name)
    kind = SourceKind.EDITABLE if buildable else SourceKind.VIRTUAL
    return LockedPackage(name=name, version=None, source=Source(kind, "."))


def pinned_lock(
    path: Path,
    root: LockedPackage,
    pins: Iterable[Pin],
    *,
    requires_python: SpecifierSet,
    supported_markers: tuple[Marker, ...] = (),
    one_platform: bool = False,
    default_groups: frozenset[str] | None = None,
) -> Lock:
    """The :class:`Lock` of a flat list: ``root`` depends on every pin of each group."""
    pins = list(pins)
    packages: dict[tuple[NormalizedName, str], LockedPackage] = {}
    for pin in pins:
        if pin.package.name == root.name:
            raise InputError(
                f"{path}: {pin.package.name} is the project itself but is pinned from "
                f"{pin.package.source.location}; lock the project as an editable path (-e .)"
            )
        key = (pin.package.name, str(pin.package.version))
        packages.setdefault(key, pin.package)
    groups: dict[str, list[Dependency]] = {}
    for pin in pins:
        several = sum(1 for name, _ in packages if name == pin.package.name) > 1
        groups.setdefault(pin.group, []).append(
            Dependency(
                name=pin.package.name,
                marker=pin.marker,
                extras=pin.extras,
                version=pin.package.version if several else None,
            )
        )
    root = LockedPackage(
        name=root.name,
        version=root.version,
        source=root.source,
        dependencies=tuple(groups.pop(MAIN, [])),
        dependency_groups=tuple((g, tuple(deps)) for g, deps in sorted(groups.items())),
    )
    return Lock(
        path=path,
        requires_python=requires_python,
        packages=(root, *packages.values()),
        root_names=(root.name,),
        supported_markers=supported_markers,
        default_groups=default_groups,
        one_platform=one_platform,
    )
