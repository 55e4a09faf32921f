"""Reader for Poetry's ``poetry.lock`` (lock-version 1.1, 2.0, 2.1) into the model.

poetry.lock differs from uv.lock in three ways that matter here:

- files are named and hashed but have no URL: they come out as artifacts with
  ``url = ""`` and the package's index as the source; the index is asked for
  the URLs of the files selection chose (``pyproject2nix.index``);
- dependencies are requirements (``name = ">=1.0"`` or tables with ``markers``,
  ``extras``, ``optional``, ``python``), not pinned edges: each is pinned here
  to the one locked package of that name that satisfies it;
- the project itself is not in the lock: it is read from pyproject.toml
  (``[tool.poetry]`` or PEP 621 ``[project]``) with its extras and groups.

1.1 keeps hashes in ``[metadata.files]`` (keyed by name, all versions mixed)
and has ``category``; 2.0 has per-package ``files``; 2.1 adds ``groups`` and
per-package ``markers`` (a string, or a table keyed by group).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from . import fsread
from .errors import InputError
from .gitsource import git_source
from .model import Artifact, Dependency, Lock, LockedPackage, Source, SourceKind, Wheel
from .poetryconstraint import Constraint, ConstraintError, parse_constraint
from .tomlfile import TomlTable, load_toml
from .wheelname import wheel_tags

PYPI_SIMPLE = "https://pypi.org/simple"
SUPPORTED_LOCK_VERSIONS = ("1.1", "2.0", "2.1")
_ANY = Constraint((SpecifierSet(),))
_SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tar")
_POETRY_REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[(?P<extras>[^\]]*)\])?\s*"
    r"(?:\((?P<constraint>[^)]*)\))?\s*(?:;\s*(?P<marker>.+))?$"
)


@dataclass(frozen=True)
class _Requirement:
    """One requirement as Poetry writes it, before it is pinned to a locked package."""

    name: NormalizedName
    constraint: Constraint
    marker: str
    extras: tuple[str, ...] = ()
    optional: bool = False
    local: bool = False
    """A path/git/url requirement: matched by name, whatever the version."""


@dataclass(frozen=True)
class _Raw:
    """A locked package whose dependencies are still requirements."""

    package: LockedPackage
    requirements: tuple[_Requirement, ...]
    extras: tuple[tuple[str, tuple[_Requirement, ...]], ...]
    python_versions: str | None = None


@dataclass
class _Project:
    """What pyproject.toml says about the root project, in Poetry's terms."""

    name: NormalizedName
    version: Version | None
    virtual: bool
    main: list[_Requirement] = field(default_factory=list)
    extras: dict[str, list[_Requirement]] = field(default_factory=dict)
    groups: dict[str, list[_Requirement]] = field(default_factory=dict)
    optional_groups: set[str] = field(default_factory=set)
    sources: dict[str, str] = field(default_factory=dict)


def read_poetry_lock(path: Path, pyproject: Path) -> Lock:
    """Parse ``path`` (a poetry.lock) and the project's ``pyproject`` into a :class:`Lock`."""
    return lock_from_poetry_toml(path, load_toml(path), pyproject)


def lock_from_poetry_toml(path: Path, data: dict[str, Any], pyproject: Path) -> Lock:
    """The :class:`Lock` of an already parsed poetry.lock (``path`` is for messages)."""
    top = TomlTable(path, "", data)
    metadata = top.opt_table("metadata")
    if metadata is None:
        raise top.error("metadata", "missing; is this a poetry.lock? Run `poetry lock`")
    lock_version = metadata.opt_string("lock-version") or "1.0"
    if lock_version not in (*SUPPORTED_LOCK_VERSIONS, "1.0"):
        raise metadata.error(
            "lock-version",
            f"poetry.lock version {lock_version} is not supported (p2n reads "
            f"{', '.join(SUPPORTED_LOCK_VERSIONS)}); re-lock with Poetry 1.1 to 2.x",
        )
    requires_python = _python_versions(metadata)
    if not fsread.is_file(pyproject):
        raise InputError(f"{pyproject}: not found; poetry.lock needs the pyproject.toml beside it")
    pyproject_data = load_toml(pyproject)
    project = _read_project(pyproject, pyproject_data)
    metadata_files = metadata.opt_table("files")
    raws = [_package(table, metadata_files, project) for table in top.tables("package")]
    locked = [raw.package for raw in raws]
    by_name: dict[NormalizedName, list[LockedPackage]] = {}
    for package in locked:
        by_name.setdefault(package.name, []).append(package)
    if project.name in by_name:
        raise InputError(
            f"{path}: the project '{project.name}' of pyproject.toml is also a locked "
            "package; rename one of them"
        )

    def pin_all(requirements: Iterable[_Requirement]) -> tuple[Dependency, ...]:
        return tuple(_pin(requirement, by_name) for requirement in requirements)

    packages = [
        LockedPackage(
            name=raw.package.name,
            version=raw.package.version,
            source=raw.package.source,
            wheels=raw.package.wheels,
            sdist=raw.package.sdist,
            dependencies=pin_all(r for r in raw.requirements if not r.optional),
            optional_dependencies=tuple((e, pin_all(reqs)) for e, reqs in raw.extras),
            resolution_markers=raw.package.resolution_markers,
        )
        for raw in raws
    ]
    root = LockedPackage(
        name=project.name,
        version=project.version,
        source=Source(SourceKind.VIRTUAL if project.virtual else SourceKind.EDITABLE, "."),
        dependencies=pin_all(project.main),
        optional_dependencies=tuple(
            (extra, pin_all(reqs)) for extra, reqs in sorted(project.extras.items())
        ),
        dependency_groups=tuple(
            (group, pin_all(reqs)) for group, reqs in sorted(project.groups.items())
        ),
    )
    packages = _tell_versions_apart(packages, root, raws)
    return Lock(
        path=path,
        requires_python=requires_python,
        packages=(root, *packages),
        root_names=(root.name,),
        default_groups=frozenset(set(project.groups) - project.optional_groups),
        drift=_drift(top, metadata, pyproject_data, project, locked),
    )


def _tell_versions_apart(
    packages: list[LockedPackage], root: LockedPackage, raws: list[_Raw]
) -> list[LockedPackage]:
    """Markers for the versions of a name that a 2.0 or 1.1 lock pins several times.

    Only lock-version 2.1 writes per-package markers. Older locks pin e.g.
    urllib3 1.26 for ``python_version < "3.10"`` and 2.x above; which version
    serves which Python is said by the edges that chose each one (botocore's
    ``urllib3 = [{version, markers}, …]``) and by each version's
    ``python-versions``. With those as resolution markers, selection takes the
    pin whose markers match the target for an edge that both versions satisfy
    (requests' ``urllib3 >=1.21.1,<3``).
    """
    counts = Counter(p.name for p in packages)
    if all(count == 1 for count in counts.values()):
        return packages
    edge_markers: dict[tuple[NormalizedName, Version | None], list[str]] = {}
    for package in (root, *packages):
        edges = [
            *package.dependencies,
            *(d for _, deps in package.optional_dependencies for d in deps),
            *(d for _, deps in package.dependency_groups for d in deps),
        ]
        for dep in edges:
            if counts[dep.name] > 1 and dep.version is not None:
                marker = str(dep.marker) if dep.marker is not None else ""
                edge_markers.setdefault((dep.name, dep.version), []).append(marker)
    python_of = {(raw.package.name, raw.package.version): raw.python_versions for raw in raws}
    result = []
    for package in packages:
        key = (package.name, package.version)
        if counts[package.name] == 1 or package.resolution_markers:
            result.append(package)
            continue
        parts = []
        markers = edge_markers.get(key, [])
        if markers and all(m and "extra" not in m for m in markers):
            parts.append(" or ".join(f"({m})" for m in sorted(set(markers))))
        python = _python_marker(python_of.get(key))
        if python:
            parts.append(python)
        if parts:
            joined = " and ".join(f"({part})" for part in parts)
            package = replace(package, resolution_markers=(Marker(joined),))
        result.append(package)
    return result


def _python_marker(python_versions: str | None) -> str:
    """``python-versions`` as a marker ("" for none, ``*`` or an unreadable constraint)."""
    if not python_versions:
        return ""
    try:
        return parse_constraint(python_versions).as_python_marker()
    except ConstraintError:
        return ""


def _python_versions(metadata: TomlTable) -> SpecifierSet:
    text = metadata.opt_string("python-versions")
    if text is None:
        return SpecifierSet()
    return _constraint(metadata, "python-versions", text).as_specifier_set()


# A lock repeats the same names, constraints and markers thousands of times (650
# packages: ~3,000 constraints, ~5,000 edges); each text is parsed once per run.
# The parsed values are never mutated; errors are not cached (lru_cache re-raises).
_canonical_name = lru_cache(maxsize=16384)(canonicalize_name)
_parsed_constraint = lru_cache(maxsize=8192)(parse_constraint)


@lru_cache(maxsize=8192)
def _parsed_marker(text: str) -> Marker:
    return Marker(text)


@lru_cache(maxsize=8192)
def _normal_marker(text: str) -> str:
    return str(_parsed_marker(text))


def _constraint(table: TomlTable, key: str, text: str) -> Constraint:
    try:
        return _parsed_constraint(text)
    except ConstraintError as exc:
        raise table.error(key, str(exc)) from exc


def _marker_text(table: TomlTable, key: str, text: str) -> str:
    """Validate a PEP 508 marker; its text is kept (selection evaluates it per target)."""
    try:
        return _normal_marker(text)
    except InvalidMarker as exc:
        reason = str(exc).splitlines()[0]
        raise table.error(key, f"invalid environment marker {text!r}: {reason}") from exc


def _version(table: TomlTable, key: str) -> Version:
    text = table.string(key)
    try:
        return Version(text)
    except InvalidVersion as exc:
        raise table.error(key, f"invalid version {text!r}") from exc


# -- drift: content-hash -------------------------------------------------------

_WRITER = re.compile(r"@generated by Poetry (\S+)")
_LEGACY_KEYS = ("dependencies", "source", "extras", "dev-dependencies")


def content_hashes(pyproject: Mapping[str, Any], writer: Version | None) -> tuple[str, ...]:
    """The ``content-hash`` values the Poetry that wrote a lock would compute.

    Poetry hashes the JSON of the pyproject.toml parts that decide the
    resolution, and which parts changed between releases: 1.1 hashes four
    ``[tool.poetry]`` keys; 1.2-1.8 add ``group``; 2.x hashes ``[project]``'s
    ``requires-python``/``dependencies``/``optional-dependencies`` too, and
    from 2.3 ``[dependency-groups]``. ``writer`` is the version the lock's
    header names (None: a 1.x lock without one, either 1.x rule may apply).
    """
    tool = pyproject.get("tool")
    poetry = tool.get("poetry", {}) if isinstance(tool, dict) else {}
    poetry = poetry if isinstance(poetry, dict) else {}
    if writer is None or writer.major < 2:
        legacy = _sha256_json({key: poetry.get(key) for key in _LEGACY_KEYS})
        grouped = _sha256_json(
            {
                key: poetry.get(key)
                for key in (*_LEGACY_KEYS, "group")
                if key in _LEGACY_KEYS or poetry.get(key) is not None
            }
        )
        return (grouped,) if writer is not None else (legacy, grouped)
    with_groups = writer >= Version("2.3")
    return (_poetry2_hash(pyproject, poetry, with_groups),)


def _poetry2_hash(
    pyproject: Mapping[str, Any], poetry: Mapping[str, Any], with_groups: bool
) -> str:
    project = pyproject.get("project")
    project = project if isinstance(project, dict) else {}
    groups = pyproject.get("dependency-groups", {}) if with_groups else {}
    relevant_project = {
        key: project[key]
        for key in ("requires-python", "dependencies", "optional-dependencies")
        if project.get(key) is not None
    }
    relevant_poetry = {
        key: poetry.get(key)
        for key in (*_LEGACY_KEYS, "group")
        if poetry.get(key) is not None
        or (key in _LEGACY_KEYS and not relevant_project and not groups)
    }
    content: dict[str, Any] = {}
    if relevant_project:
        content["project"] = relevant_project
    if groups:
        content["dependency-groups"] = groups
    if content:
        content["tool"] = {"poetry": relevant_poetry}
    else:
        content = relevant_poetry  # Poetry keeps 1.x's layout for [tool.poetry]-only projects
    return _sha256_json(content)


def _sha256_json(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _writer(path: Path) -> Version | None:
    """The Poetry version in the lock's first line (Poetry >= 1.2 writes it)."""
    try:
        with path.open(encoding="utf-8") as lock:
            first = lock.readline()
    except OSError:
        return None
    match = _WRITER.search(first)
    if match is None:
        return None
    try:
        return Version(match.group(1))
    except InvalidVersion:
        return None


def _drift(
    top: TomlTable,
    metadata: TomlTable,
    pyproject: Mapping[str, Any],
    project: _Project,
    locked: list[LockedPackage],
) -> tuple[str, ...]:
    """Why the lock does not match pyproject.toml, as ``poetry check --lock`` decides it."""
    recorded = metadata.opt_string("content-hash")
    if recorded is None:
        return ("the lock has no metadata.content-hash",)
    try:
        expected = content_hashes(pyproject, _writer(top.file))
    except (TypeError, ValueError):
        return ()  # values JSON cannot hold (TOML dates): Poetry itself could not hash them
    if recorded in expected:
        return ()
    names = {p.name for p in locked}
    wanted = [
        *project.main,
        *(r for reqs in project.extras.values() for r in reqs),
        *(r for reqs in project.groups.values() for r in reqs),
    ]
    missing = sorted({r.name for r in wanted if r.name not in names and r.name != project.name})
    if missing:
        return tuple(f"{name} is not in the lock" for name in missing)
    return (
        "its content-hash differs from pyproject.toml's: dependencies, groups, extras "
        "or sources changed since the lock was written",
    )


# -- packages ---------------------------------------------------------------


def _package(table: TomlTable, metadata_files: TomlTable | None, project: _Project) -> _Raw:
    name = _canonical_name(table.string("name"))
    version = _version(table, "version")
    source = _source(table, project)
    wheels, sdist = _files(table, metadata_files, name, version, source)
    extras_table = table.opt_table("extras")
    dependencies = table.opt_table("dependencies")
    requirements = _requirements(dependencies) if dependencies is not None else []
    extras = []
    if extras_table is not None:
        for extra in sorted(extras_table.names()):
            wanted = [
                _extra_requirement(extras_table, extra, text, requirements)
                for text in extras_table.strings(extra)
            ]
            extras.append((_canonical_name(extra), tuple(r for group in wanted for r in group)))
    package = LockedPackage(
        name=name,
        version=version,
        source=source,
        wheels=wheels,
        sdist=sdist,
        resolution_markers=_package_markers(table),
    )
    return _Raw(package, tuple(requirements), tuple(extras), table.opt_string("python-versions"))


def _package_markers(table: TomlTable) -> tuple[Marker, ...]:
    """2.1's ``markers`` (string, or table by group): where the package is installed.

    Kept as resolution markers, which selection consults only to tell apart
    several locked versions of one name; it evaluates their ``extra`` tests
    with the project's selected extras.
    """
    if "markers" not in table.data:
        return ()
    value = table.data["markers"]
    if isinstance(value, str):
        texts = [value]
    elif isinstance(value, dict):
        group_markers = table.opt_table("markers")
        assert group_markers is not None
        texts = [group_markers.string(group) for group in sorted(group_markers.names())]
    else:
        raise table.error("markers", "expected a string or a table of strings by group")
    return tuple(_parsed_marker(_marker_text(table, "markers", text)) for text in texts)


def _source(table: TomlTable, project: _Project) -> Source:
    source = table.opt_table("source")
    if source is None:
        return Source(SourceKind.REGISTRY, PYPI_SIMPLE)
    kind = source.string("type")
    url = source.opt_string("url")
    reference = source.opt_string("reference")
    if kind == "legacy":
        index = url or project.sources.get(reference or "")
        if not index:
            raise source.error(
                "url",
                f"no URL for the package index '{reference}'; add it to "
                "[[tool.poetry.source]] in pyproject.toml and run `poetry lock`",
            )
        return Source(SourceKind.REGISTRY, index.rstrip("/"))
    if url is None:
        raise source.error("url", "missing")
    if kind == "url":
        return Source(SourceKind.URL, url, source.opt_subdirectory())
    if kind == "git":
        resolved = source.opt_string("resolved_reference") or ""
        git = git_source(
            url,
            resolved,
            source.where("resolved_reference"),
            subdirectory=source.opt_string("subdirectory") or None,
            ref=reference or None,
        )
        return Source(SourceKind.GIT, f"{url}#{resolved}" if resolved else url, git=git)
    if kind == "file":
        return Source(SourceKind.PATH, url)
    if kind == "directory":
        develop = table.data.get("develop") is True
        return Source(SourceKind.EDITABLE if develop else SourceKind.DIRECTORY, url)
    raise source.error(
        "type", f"unknown source type {kind!r}; expected legacy, url, git, file or directory"
    )


def _files(
    table: TomlTable,
    metadata_files: TomlTable | None,
    name: NormalizedName,
    version: Version,
    source: Source,
) -> tuple[tuple[Wheel, ...], Artifact | None]:
    """A package's wheels and sdist (2.x: ``files``; 1.1: ``[metadata.files]``)."""
    pairs = _well_formed_files(table)
    if pairs is None:
        pairs = [
            (e.string("file"), e.sha256())
            for e in _file_tables(table, metadata_files, name, version)
        ]
    url = source.location if source.kind in (SourceKind.URL, SourceKind.PATH) else ""
    wheels: list[Wheel] = []
    sdist: Artifact | None = None
    for index, (filename, sha256) in enumerate(pairs):
        if filename.endswith(".whl"):
            try:
                tags = wheel_tags(filename)
            except InvalidWheelFilename as exc:
                entry = _file_tables(table, metadata_files, name, version)[index]
                raise entry.error("file", f"not a valid wheel file name {filename!r}") from exc
            wheels.append(Wheel(url=url, sha256=sha256, filename=filename, tags=tags))
        elif filename.endswith(_SDIST_SUFFIXES) and sdist is None:
            sdist = Artifact(url=url, sha256=sha256, filename=filename)
    return tuple(wheels), sdist


_SHA256_ENTRY = re.compile(r"sha256:[0-9a-f]{64}")


def _well_formed_files(table: TomlTable) -> list[tuple[str, str]] | None:
    """``(file, sha256)`` of a 2.x ``files`` list when every entry is plainly well formed.

    A lock lists ~15 files per package, each a table read through TomlTable's
    checked getters; this reads the common shape (``file`` and a lower-case
    ``sha256:`` hash) directly. None for anything else (md5, upper case, a
    missing key, a wrong type): the checked reader then gives the same values
    or the error naming the key path.
    """
    entries = table.data.get("files")
    if type(entries) is not list:
        return None
    pairs = []
    for item in entries:
        if type(item) is not dict:
            return None
        filename, digest = item.get("file"), item.get("hash")
        if type(filename) is not str or type(digest) is not str:
            return None
        if not _SHA256_ENTRY.fullmatch(digest):
            return None
        pairs.append((filename, digest[7:]))
    return pairs


def _file_tables(
    table: TomlTable, metadata_files: TomlTable | None, name: NormalizedName, version: Version
) -> list[TomlTable]:
    """The file entries of a package as checked tables (each knows its key path)."""
    if "files" in table.data:
        return table.tables("files")
    if metadata_files is not None:
        return _metadata_entries(metadata_files, name, version)
    return []


def _metadata_entries(
    metadata_files: TomlTable, name: NormalizedName, version: Version
) -> list[TomlTable]:
    """1.1's ``[metadata.files]``: entries under the package's name, for this version only."""
    for key in metadata_files.names():
        if canonicalize_name(key) == name:
            return [e for e in metadata_files.tables(key) if _file_version(e) in (version, None)]
    return []


def _file_version(entry: TomlTable) -> Version | None:
    """The version in a file name (None: unparsable, so kept for every version)."""
    filename = entry.data.get("file")
    if not isinstance(filename, str):
        return None
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


# -- requirements ------------------------------------------------------------


def _requirements(table: TomlTable) -> list[_Requirement]:
    """``name = spec`` entries of a dependencies table (``python`` is not a package)."""
    result: list[_Requirement] = []
    for key in table.names():
        if key == "python":
            continue
        result.extend(_requirement_specs(table, key))
    return result


def _requirement_specs(table: TomlTable, key: str) -> list[_Requirement]:
    """A constraint string, a table, or a list of tables (one per marker branch)."""
    name = _canonical_name(key)
    value = table.data[key]
    if isinstance(value, str):
        return [_Requirement(name, _constraint(table, key, value), "")]
    if isinstance(value, dict):
        spec = table.opt_table(key)
        assert spec is not None
        return [_requirement_table(name, spec)]
    if isinstance(value, list):
        return [_requirement_table(name, spec) for spec in table.tables(key)]
    raise table.error(key, "expected a version constraint, a table or an array of tables")


def _requirement_table(name: NormalizedName, spec: TomlTable) -> _Requirement:
    version = spec.opt_string("version")
    constraint = _constraint(spec, "version", version) if version else _ANY
    markers = []
    text = spec.opt_string("markers")
    if text:
        markers.append(_marker_text(spec, "markers", text))
    python = spec.opt_string("python")
    if python:
        python_marker = _constraint(spec, "python", python).as_python_marker()
        if python_marker:
            markers.append(python_marker)
    platform = spec.opt_string("platform")
    if platform:
        markers.append(f'sys_platform == "{platform}"')
    optional = spec.data.get("optional") is True
    local = any(key in spec.data for key in ("path", "git", "url", "file"))
    return _Requirement(
        name=name,
        constraint=constraint,
        marker=_and(markers),
        extras=tuple(sorted(_canonical_name(e) for e in spec.strings("extras"))),
        optional=optional,
        local=local,
    )


def _and(markers: list[str]) -> str:
    if len(markers) <= 1:
        return markers[0] if markers else ""
    return " and ".join(f"({m})" for m in markers)


def _extra_requirement(
    table: TomlTable, extra: str, text: str, dependencies: list[_Requirement]
) -> list[_Requirement]:
    """An entry of ``[package.extras]``, resolved to the package's optional dependency."""
    parsed = _parse_requirement_string(table, extra, text)
    declared = [d for d in dependencies if d.name == parsed.name]
    if not declared:
        return [parsed]
    return [
        _Requirement(
            name=d.name,
            constraint=d.constraint,
            # Its ``extra == …`` tests are decided by selection, which evaluates
            # the markers of an extra's dependencies with that extra active.
            marker=d.marker,
            extras=tuple(sorted({*d.extras, *parsed.extras})),
            optional=True,
            local=d.local,
        )
        for d in declared
    ]


_parsed_requirements: dict[str, _Requirement] = {}
"""Requirement strings already parsed (``[package.extras]`` repeats them: ~3,700 in a
650-package lock). Only successes are kept, so an error still names its key path."""


def _parse_requirement_string(table: TomlTable, key: str, text: str) -> _Requirement:
    """``name[extras] (constraint) ; marker`` (Poetry) or a PEP 508 string."""
    known = _parsed_requirements.get(text)
    if known is None:
        if len(_parsed_requirements) >= 16384:
            _parsed_requirements.clear()
        known = _parsed_requirements[text] = _parse_requirement_checked(table, key, text)
    return known


def _parse_requirement_checked(table: TomlTable, key: str, text: str) -> _Requirement:
    match = _POETRY_REQUIREMENT.match(text)
    if match is not None:
        constraint_text = match.group("constraint")
        marker = match.group("marker")
        extras = match.group("extras")
        return _Requirement(
            name=_canonical_name(match.group("name")),
            constraint=_constraint(table, key, constraint_text) if constraint_text else _ANY,
            marker=_marker_text(table, key, marker) if marker else "",
            extras=tuple(
                sorted(_canonical_name(e.strip()) for e in (extras or "").split(",") if e.strip())
            ),
        )
    return _pep508(table, key, text)


def _pep508(table: TomlTable, key: str, text: str) -> _Requirement:
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0]
        raise table.error(key, f"invalid requirement {text!r}: {reason}") from exc
    return _Requirement(
        name=_canonical_name(requirement.name),
        constraint=Constraint((requirement.specifier,)),
        marker=str(requirement.marker) if requirement.marker else "",
        extras=tuple(sorted(_canonical_name(e) for e in requirement.extras)),
        local=requirement.url is not None,
    )


def _pin(
    requirement: _Requirement, by_name: Mapping[NormalizedName, list[LockedPackage]]
) -> Dependency:
    """The edge to the one locked package that satisfies ``requirement``.

    Real locks hold several versions of one name (split by markers); the
    requirement's version constraint picks among them. What stays ambiguous
    is left to selection (2.1's per-package markers tell the versions apart).
    """
    candidates = by_name.get(requirement.name, [])
    if requirement.local and len(candidates) > 1:
        candidates = [c for c in candidates if c.source.kind is not SourceKind.REGISTRY]
    elif len(candidates) > 1:
        candidates = [
            c
            for c in candidates
            if c.version is not None and requirement.constraint.allows(c.version)
        ]
    version: Version | None = None
    source: str | None = None
    versions: tuple[Version, ...] = ()
    if len(candidates) == 1:
        version = candidates[0].version
        if len([c for c in by_name[requirement.name] if c.version == version]) > 1:
            source = candidates[0].source.location
    elif len(candidates) > 1 and not requirement.local:
        versions = tuple(sorted({c.version for c in candidates if c.version is not None}))
    return Dependency(
        name=requirement.name,
        marker=_parsed_marker(requirement.marker) if requirement.marker else None,
        extras=requirement.extras,
        version=version,
        source=source,
        versions=versions,
    )


# -- the project (pyproject.toml) ---------------------------------------------


def _read_project(path: Path, data: dict[str, Any]) -> _Project:
    top = TomlTable(path, "", data)
    tool = top.opt_table("tool")
    poetry = tool.opt_table("poetry") if tool is not None else None
    pep621 = top.opt_table("project")
    name_text = (pep621.opt_string("name") if pep621 else None) or (
        poetry.opt_string("name") if poetry else None
    )
    version_text = (pep621.opt_string("version") if pep621 else None) or (
        poetry.opt_string("version") if poetry else None
    )
    try:
        version = Version(version_text) if version_text else None
    except InvalidVersion as exc:
        raise InputError(f"{path}: version: invalid version {version_text!r}") from exc
    package_mode = poetry.data.get("package-mode", True) if poetry else True
    project = _Project(
        name=canonicalize_name(name_text or fsread.resolve(path.parent).name),
        version=version,
        virtual=package_mode is False,
    )
    if poetry is not None:
        for table in poetry.tables("source"):
            project.sources[table.string("name")] = table.opt_string("url") or ""
    if pep621 is not None and ("dependencies" in pep621.data or poetry is None):
        project.main = [_pep508(pep621, "dependencies", t) for t in pep621.strings("dependencies")]
        optional = pep621.opt_table("optional-dependencies")
        if optional is not None:
            for extra in optional.names():
                project.extras[canonicalize_name(extra)] = [
                    _pep508(optional, extra, text) for text in optional.strings(extra)
                ]
    elif poetry is not None:
        _classic_dependencies(poetry, project)
    if poetry is not None:
        _poetry_groups(poetry, project)
    _pep735_groups(top, project)
    return project


def _classic_dependencies(poetry: TomlTable, project: _Project) -> None:
    """``[tool.poetry.dependencies]``; optional ones only through ``[tool.poetry.extras]``."""
    dependencies = poetry.opt_table("dependencies")
    requirements = _requirements(dependencies) if dependencies is not None else []
    project.main = [r for r in requirements if not r.optional]
    extras = poetry.opt_table("extras")
    if extras is None:
        return
    for extra in extras.names():
        chosen: list[_Requirement] = []
        for text in extras.strings(extra):
            wanted = _parse_requirement_string(extras, extra, text)
            # A name [tool.poetry.dependencies] does not declare installs nothing: Poetry
            # leaves it out of the lock's [extras] (`poetry check` only warns).
            chosen.extend(r for r in requirements if r.name == wanted.name)
        project.extras[canonicalize_name(extra)] = chosen


def _poetry_groups(poetry: TomlTable, project: _Project) -> None:
    """``[tool.poetry.group.<name>]`` and the old ``[tool.poetry.dev-dependencies]`` (dev)."""
    dev = poetry.opt_table("dev-dependencies")
    if dev is not None:
        project.groups.setdefault("dev", []).extend(_requirements(dev))
    groups = poetry.opt_table("group")
    if groups is None:
        return
    for group in groups.names():
        table = groups.opt_table(group)
        assert table is not None
        dependencies = table.opt_table("dependencies")
        project.groups.setdefault(group, []).extend(
            _requirements(dependencies) if dependencies is not None else []
        )
        if table.data.get("optional") is True:
            project.optional_groups.add(group)


def _pep735_groups(top: TomlTable, project: _Project) -> None:
    """PEP 735 ``[dependency-groups]`` (Poetry >= 2.2 reads them too)."""
    groups = top.opt_table("dependency-groups")
    if groups is None:
        return
    raw: dict[str, list[Any]] = {name: groups.data[name] for name in groups.names()}

    def expand(group: str, seen: tuple[str, ...]) -> list[_Requirement]:
        if group in seen:
            raise groups.error(group, f"include-group cycle: {' -> '.join((*seen, group))}")
        result: list[_Requirement] = []
        for index, item in enumerate(raw.get(group, [])):
            if isinstance(item, str):
                result.append(_pep508(groups, f"{group}[{index}]", item))
            elif isinstance(item, dict) and isinstance(item.get("include-group"), str):
                result.extend(expand(item["include-group"], (*seen, group)))
            else:
                raise groups.error(
                    f"{group}[{index}]", "expected a requirement or {include-group = ...}"
                )
        return result

    for group in raw:
        project.groups.setdefault(group, []).extend(expand(group, ()))
