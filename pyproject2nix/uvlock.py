"""Reader for uv's ``uv.lock`` (``version = 1``, any ``revision``) into the model.

The lock is read whole and eagerly so that every malformed entry is reported
with its key path, even for packages no target system needs. What a package
*means* for a given system (markers, wheels) is decided later, in ``select``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
)
from packaging.version import InvalidVersion, Version

from .errors import InputError
from .gitsource import parse_git_location
from .model import Artifact, Dependency, Lock, LockedPackage, Source, SourceKind, Wheel
from .tomlfile import SHA256_HEX, TomlTable, load_toml
from .wheelname import wheel_tags

SUPPORTED_LOCK_VERSION = 1


def read_uv_lock(path: Path, project_name: str | None = None, *, drift: bool = False) -> Lock:
    """Parse ``path`` (a uv.lock) into a :class:`Lock`.

    ``project_name`` is the ``[project]`` name from pyproject.toml; it decides
    which locked package is the root. Without it, the workspace members of
    ``[manifest]`` (or the single editable/virtual package at ``.``) are roots.
    ``drift``: also compare the lock with the pyproject.toml files beside and
    below it (:attr:`Lock.drift`), as ``uv sync --locked`` does.
    """
    data = load_toml(path)
    lock = lock_from_toml(path, data, project_name)
    if not drift:
        return lock
    from .uvdrift import uv_drift

    return replace(lock, drift=uv_drift(path, data))


def lock_from_toml(path: Path, data: dict[str, Any], project_name: str | None = None) -> Lock:
    """Build the :class:`Lock` from parsed TOML (``path`` is only named in errors)."""
    top = TomlTable(path, "", data)
    version = top.integer("version")
    if version != SUPPORTED_LOCK_VERSION:
        raise top.error(
            "version",
            f"uv.lock version {version} is not supported (p2n reads version "
            f"{SUPPORTED_LOCK_VERSION}); upgrade p2n or re-lock with a uv that writes version 1",
        )
    top.opt_integer(
        "revision"
    )  # every revision of version 1 is compatible; only its type is checked
    requires_python = _specifiers(top, "requires-python")
    packages = tuple(_package(table) for table in top.tables("package"))
    manifest = top.opt_table("manifest")
    members = [canonicalize_name(m) for m in manifest.strings("members")] if manifest else []
    root_groups: tuple[tuple[str, tuple[Dependency, ...]], ...] = ()
    if manifest is not None:
        groups = manifest.opt_table("dependency-groups")
        if groups is not None:
            root_groups = _groups(groups)
    roots = _root_names(path, packages, members, project_name)
    return Lock(
        path=path,
        requires_python=requires_python,
        packages=packages,
        root_names=roots,
        root_groups=root_groups,
        supported_markers=_markers(top, "supported-markers"),
        required_markers=_markers(top, "required-markers"),
    )


def _root_names(
    path: Path,
    packages: tuple[LockedPackage, ...],
    members: list[NormalizedName],
    project_name: str | None,
) -> tuple[NormalizedName, ...]:
    names = {p.name for p in packages}
    if project_name is not None:
        root = canonicalize_name(project_name)
        if root not in names:
            raise InputError(
                f"{path}: the project '{root}' of pyproject.toml is not in the lock; "
                "run `uv lock` to update it"
            )
        return (root,)
    if members:
        return tuple(sorted(set(members)))
    local_roots = sorted(
        p.name
        for p in packages
        if p.source.kind in (SourceKind.EDITABLE, SourceKind.VIRTUAL) and p.source.location == "."
    )
    return tuple(local_roots)


def _specifiers(table: TomlTable, key: str) -> SpecifierSet:
    text = table.opt_string(key)
    if text is None:
        return SpecifierSet()
    try:
        return SpecifierSet(text)
    except InvalidSpecifier as exc:
        raise table.error(key, f"invalid version specifier {text!r}") from exc


def _marker(table: TomlTable, key: str, text: str) -> Marker:
    try:
        return Marker(text)
    except InvalidMarker as exc:
        reason = str(exc).splitlines()[0]
        raise table.error(key, f"invalid environment marker {text!r}: {reason}") from exc


def _markers(table: TomlTable, key: str) -> tuple[Marker, ...]:
    return tuple(_marker(table, key, text) for text in table.strings(key))


def _version(table: TomlTable, key: str) -> Version | None:
    text = table.opt_string(key)
    if text is None:
        return None
    try:
        return Version(text)
    except InvalidVersion as exc:
        raise table.error(key, f"invalid version {text!r}") from exc


def _source(table: TomlTable) -> Source:
    source = table.opt_table("source")
    if source is None:
        raise table.error("source", "missing; re-lock with a current uv")
    for kind in SourceKind:
        location = source.data.get(kind.value)
        if location is not None:
            if not isinstance(location, str):
                raise source.error(kind.value, "expected a string")
            if kind is SourceKind.GIT:
                git = parse_git_location(location, source.where(kind.value))
                return Source(kind, location, git=git)
            subdirectory = source.opt_subdirectory() if kind is SourceKind.URL else None
            return Source(kind, location, subdirectory)
    raise source.error(
        None,
        f"unknown source type {sorted(source.names())}; expected one of "
        + ", ".join(k.value for k in SourceKind),
    )


def filename_of(table: TomlTable, url: str | None) -> str:
    """The file name of an artifact: ``filename`` if given, else the URL's last segment."""
    filename = table.opt_string("filename")
    if filename:
        return filename
    if url is None:
        raise table.error(None, "has neither 'url' nor 'filename'")
    # Same as urlsplit(url).path's last segment, without parsing the whole URL.
    name = url.split("#", 1)[0].split("?", 1)[0].rsplit("/", 1)[-1]
    return unquote(name) if "%" in name else name


def _artifact_url(table: TomlTable, source: Source | None = None) -> str:
    url = table.opt_string("url")
    if url is not None:
        return url
    path = table.opt_string("path")
    if path is not None:
        return path
    if source is not None and source.kind in (SourceKind.PATH, SourceKind.URL):
        return source.location  # a local file or a direct URL: uv names it in the source only
    raise table.error(None, "has neither 'url' nor 'path'")


def _wheel(table: TomlTable, source: Source | None = None) -> Wheel:
    # The common shape (url, sha256 hash, optional size, no filename), read without the
    # typed getters: a lock holds thousands of wheels. Anything else takes the checked path.
    data = table.data
    url = data.get("url")
    digest = data.get("hash")
    size = data.get("size")
    if (
        type(url) is str
        and type(digest) is str
        and digest.startswith("sha256:")
        and (size is None or type(size) is int)
        and "filename" not in data
    ):
        sha256 = digest[7:].lower()
        if SHA256_HEX.fullmatch(sha256):
            name = url.split("#", 1)[0].split("?", 1)[0].rsplit("/", 1)[-1]
            filename = unquote(name) if "%" in name else name
            return Wheel(url, sha256, filename, size, _wheel_tags(table, filename))
    url = _artifact_url(table, source)
    filename = filename_of(table, url)
    tags = _wheel_tags(table, filename)
    return Wheel(
        url=url, sha256=table.sha256(), filename=filename, size=table.opt_integer("size"), tags=tags
    )


def _wheel_tags(table: TomlTable, filename: str) -> frozenset[Tag]:
    try:
        return wheel_tags(filename)
    except InvalidWheelFilename as exc:
        raise table.error("url", f"not a valid wheel file name {filename!r}: {exc}") from exc


def _sdist(table: TomlTable, source: Source | None = None) -> Artifact:
    url = _artifact_url(table, source)
    return Artifact(
        url=url,
        sha256=table.sha256(),
        filename=filename_of(table, url),
        size=table.opt_integer("size"),
    )


def _dependency(table: TomlTable) -> Dependency:
    marker_text = table.opt_string("marker")
    return Dependency(
        name=canonicalize_name(table.string("name")),
        marker=_marker(table, "marker", marker_text) if marker_text else None,
        extras=tuple(sorted(table.strings("extra"))),
        version=_version(table, "version"),
        source=_source_location(table),
    )


def _source_location(table: TomlTable) -> str | None:
    source = table.opt_table("source")
    if source is None:
        return None
    for value in source.data.values():
        if isinstance(value, str):
            return value
    return None


def _groups(table: TomlTable) -> tuple[tuple[str, tuple[Dependency, ...]], ...]:
    """``{group = [dependency, …]}`` tables (optional-dependencies, dev-dependencies)."""
    return tuple(
        (name, tuple(_dependency(dep) for dep in table.tables(name)))
        for name in sorted(table.names())
    )


def _package(table: TomlTable) -> LockedPackage:
    name = canonicalize_name(table.string("name"))
    sdist_table = table.opt_table("sdist")
    optional = table.opt_table("optional-dependencies")
    dev = table.opt_table("dev-dependencies")
    source = _source(table)
    return LockedPackage(
        name=name,
        version=_version(table, "version"),
        source=source,
        wheels=tuple(_wheel(w, source) for w in table.tables("wheels")),
        sdist=_sdist(sdist_table, source) if sdist_table is not None else None,
        dependencies=tuple(_dependency(d) for d in table.tables("dependencies")),
        optional_dependencies=_groups(optional) if optional else (),
        dependency_groups=_groups(dev) if dev else (),
        resolution_markers=tuple(
            _marker(table, "resolution-markers", text)
            for text in table.strings("resolution-markers")
        ),
    )
