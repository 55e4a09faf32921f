"""Reader for PEP 751 ``pylock.toml`` (``pylock.<name>.toml``) into the model.

Validation is ``packaging.pylock``'s (its errors carry the key path). A pylock
file is a flat list: each package says by its ``marker`` whether an
environment installs it; ``dependencies`` are informational. So the model gets
one root (the project, or a virtual stand-in) that depends on every package
under that package's marker. Markers may test ``'x' in extras`` and
``'g' in dependency_groups``; selection evaluates them in packaging's
``lock_file`` context with the extras and groups the user chose.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.pylock import (
    Package,
    PackageArchive,
    PackageSdist,
    PackageWheel,
    Pylock,
    PylockUnsupportedVersionError,
    PylockValidationError,
)
from packaging.specifiers import SpecifierSet
from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    parse_wheel_filename,
)

from . import fsread
from .errors import InputError
from .gitsource import git_source
from .model import Artifact, Dependency, Lock, LockedPackage, Source, SourceKind, Wheel
from .tomlfile import load_toml


def is_pylock_name(name: str) -> bool:
    """``pylock.toml`` or ``pylock.<name>.toml`` (PEP 751 file names)."""
    return name == "pylock.toml" or (
        name.startswith("pylock.") and name.endswith(".toml") and name.count(".") == 2
    )


def read_pylock(path: Path, project_name: str | None = None) -> Lock:
    """Parse ``path`` (a PEP 751 lock) into a :class:`Lock`.

    The root is the package installed from the lock's own directory (``uv
    export`` writes the project as ``directory = { path = "." }``); without
    one, a virtual root named after ``project_name`` stands in.
    """
    return lock_from_pylock_toml(path, load_toml(path), project_name)


def lock_from_pylock_toml(path: Path, data: dict[str, Any], project_name: str | None) -> Lock:
    """The :class:`Lock` of an already parsed pylock.toml (``path`` is for messages)."""
    try:
        pylock = Pylock.from_dict(data)
    except PylockUnsupportedVersionError as exc:
        raise InputError(
            f"{path}: lock-version: {exc}; p2n reads PEP 751 version 1.x: re-export the lock"
        ) from exc
    except PylockValidationError as exc:
        where = f"{exc.context}: " if exc.context else ""
        raise InputError(f"{path}: {where}{exc.message}; re-export the lock") from exc
    packages = [_package(path, index, p) for index, p in enumerate(pylock.packages)]
    root_index = next(
        (
            i
            for i, p in enumerate(pylock.packages)
            if p.directory is not None and PurePosixPath(p.directory.path) == PurePosixPath(".")
        ),
        None,
    )
    if root_index is not None:
        root_name = packages[root_index].name
    else:
        root_name = canonicalize_name(project_name or fsread.resolve(path.parent).name)
    others = [
        (package, locked)
        for package, locked in zip(pylock.packages, packages, strict=True)
        if locked.name != root_name
    ]
    dependencies = tuple(
        Dependency(
            name=locked.name,
            marker=package.marker,
            version=locked.version,
            source=locked.source.location
            if sum(1 for _, o in others if (o.name, o.version) == (locked.name, locked.version)) > 1
            else None,
        )
        for package, locked in others
    )
    root = LockedPackage(
        name=root_name,
        version=packages[root_index].version if root_index is not None else None,
        source=packages[root_index].source
        if root_index is not None
        else Source(SourceKind.VIRTUAL, "."),
        dependencies=dependencies,
        optional_dependencies=tuple((e, ()) for e in sorted(pylock.extras or ())),
        dependency_groups=tuple((g, ()) for g in sorted(pylock.dependency_groups or ())),
    )
    return Lock(
        path=path,
        requires_python=pylock.requires_python or SpecifierSet(),
        packages=(root, *(locked for _, locked in others)),
        root_names=(root_name,),
        supported_markers=tuple(pylock.environments or ()),
        default_groups=frozenset(pylock.default_groups)
        if pylock.default_groups is not None
        else None,
    )


def _where(path: Path, index: int, key: str = "") -> str:
    return f"{path}: packages[{index}]{'.' + key if key else ''}"


def _package(path: Path, index: int, package: Package) -> LockedPackage:
    wheels = tuple(
        _wheel(path, index, f"wheels[{i}]", w) for i, w in enumerate(package.wheels or ())
    )
    sdist = _sdist(path, index, package.sdist) if package.sdist is not None else None
    source = _source(path, index, package)
    if package.archive is not None:
        archive = _archive(path, index, package.archive)
        if isinstance(archive, Wheel):
            wheels = (*wheels, archive)
        else:
            sdist = archive
    return LockedPackage(
        name=package.name,
        version=package.version,
        source=source,
        wheels=wheels,
        sdist=sdist,
    )


def _source(path: Path, index: int, package: Package) -> Source:
    if package.vcs is not None:
        vcs = package.vcs
        location = vcs.url or vcs.path or ""
        git = git_source(
            location,
            vcs.commit_id,
            _where(path, index, "vcs"),
            subdirectory=vcs.subdirectory or None,
            ref=vcs.requested_revision or None,
        )
        return Source(SourceKind.GIT, f"{location}#{vcs.commit_id}", git=git)
    if package.directory is not None:
        kind = SourceKind.EDITABLE if package.directory.editable else SourceKind.DIRECTORY
        return Source(kind, package.directory.path)
    if package.archive is not None:
        if package.archive.url:
            return Source(SourceKind.URL, package.archive.url)
        return Source(SourceKind.PATH, package.archive.path or "")
    if package.index:
        return Source(SourceKind.REGISTRY, package.index.rstrip("/"))
    first = next(iter(package.wheels or ()), None) or package.sdist
    if first is not None and first.url is None and first.path is not None:
        return Source(SourceKind.PATH, first.path)
    # Files with URLs but no index named: the URLs are all there is.
    return Source(SourceKind.URL, (first.url if first is not None else None) or "")


def _sha256(hashes: object) -> str:
    if isinstance(hashes, dict):
        value = hashes.get("sha256", "")
        return value.lower() if isinstance(value, str) else ""
    return ""


def _wheel(path: Path, index: int, key: str, wheel: PackageWheel) -> Wheel:
    filename = wheel.filename
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        raise InputError(
            f"{_where(path, index, key)}: not a valid wheel file name {filename!r}"
        ) from exc
    return Wheel(
        url=wheel.url or wheel.path or "",
        sha256=_sha256(wheel.hashes),
        filename=filename,
        size=wheel.size,
        tags=tags,
    )


def _sdist(path: Path, index: int, sdist: PackageSdist) -> Artifact:
    return Artifact(
        url=sdist.url or sdist.path or "",
        sha256=_sha256(sdist.hashes),
        filename=sdist.filename,
        size=sdist.size,
    )


def _archive(path: Path, index: int, archive: PackageArchive) -> Artifact:
    location = archive.url or archive.path or ""
    filename = unquote(urlsplit(location).path.rsplit("/", 1)[-1])
    if filename.endswith(".whl"):
        try:
            tags = parse_wheel_filename(filename)[3]
        except InvalidWheelFilename as exc:
            raise InputError(
                f"{_where(path, index, 'archive')}: not a valid wheel file name {filename!r}"
            ) from exc
        return Wheel(location, _sha256(archive.hashes), filename, archive.size, tags=tags)
    return Artifact(location, _sha256(archive.hashes), filename, archive.size)
