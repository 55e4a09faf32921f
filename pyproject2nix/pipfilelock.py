"""Reader for Pipenv's ``Pipfile.lock`` (pipfile-spec 6) into the model.

``default`` holds the project's dependencies, ``develop`` the ``[dev-packages]``
(the dependency group ``dev``, installed with ``--group dev`` as ``pipenv
install --dev`` does). Each entry pins a version with the sha256 of every file
of that version, a marker, and the name of its index in ``_meta.sources``
(entries without one come from the first source). Pipenv records markers but
resolved on one machine; ``_meta.requires.python_version`` is the Python it
resolved for. An entry ``{"path": ".", "editable": true}`` is the project itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from . import fsread
from .errors import InputError
from .gitsource import git_source
from .model import Lock, LockedPackage, Source, SourceKind
from .pinnedlist import (
    PYPI_SIMPLE,
    Pin,
    pinned_lock,
    pinned_version,
    project_root,
    registry_package,
    sha256_hashes,
)
from .tomlfile import TomlTable

PIPFILE_SPEC = 6
DEV_GROUP = "dev"
_FIX = "run `pipenv lock` again"


def read_pipfile_lock(path: Path, project_name: str | None = None) -> Lock:
    """Parse ``path`` (a Pipfile.lock) into a :class:`Lock`."""
    top = TomlTable(path, "", _load_json(path))
    meta = top.opt_table("_meta")
    if meta is None:
        raise top.error("_meta", "missing; is this a Pipfile.lock?")
    spec = meta.opt_integer("pipfile-spec")
    if spec != PIPFILE_SPEC:
        raise meta.error(
            "pipfile-spec",
            f"{spec} is not supported (p2n reads pipfile-spec {PIPFILE_SPEC}); {_FIX} with a "
            "current Pipenv",
        )
    sources = _sources(meta)
    root = project_root(path, project_name)
    pins: list[Pin] = []
    listed_root = False
    for section, group in (("default", ""), ("develop", DEV_GROUP)):
        table = top.opt_table(section)
        if table is None:
            continue
        for name in table.names():
            entry = table.opt_table(name)
            if entry is None:
                raise table.error(name, "expected a table")
            if _is_project(entry):
                listed_root = True
                continue
            pins.append(_pin(entry, name, group, sources))
    if listed_root and root.source.kind is SourceKind.VIRTUAL:
        raise InputError(
            f'{path}: the lock installs the project itself (path = "."), but its '
            "pyproject.toml has no [build-system]"
        )
    return pinned_lock(
        path,
        root,
        pins,
        requires_python=_requires_python(meta),
        default_groups=frozenset(),
    )


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(fsread.read_bytes(path))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: malformed JSON ({exc}); {_FIX}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object at the top; {_FIX}")
    return data


def _sources(meta: TomlTable) -> dict[str, str]:
    """Index names to URLs, in order (the first is the default index)."""
    sources: dict[str, str] = {}
    for source in meta.tables("sources"):
        sources[source.string("name")] = source.string("url").rstrip("/")
    return sources or {"pypi": PYPI_SIMPLE}


def _requires_python(meta: TomlTable) -> SpecifierSet:
    requires = meta.opt_table("requires")
    if requires is None:
        return SpecifierSet()
    full = requires.opt_string("python_full_version")
    version = requires.opt_string("python_version")
    text = full or version
    if text is None:
        return SpecifierSet()
    parts = text.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        key = "python_full_version" if full else "python_version"
        raise requires.error(key, f"{text!r} is not a Python version such as 3.11")
    return SpecifierSet(f"=={parts[0]}.{parts[1]}.*")


def _is_project(entry: TomlTable) -> bool:
    path = entry.opt_string("path")
    return path is not None and Path(path) == Path(".")


def _pin(entry: TomlTable, name: str, group: str, sources: dict[str, str]) -> Pin:
    marker_text = entry.opt_string("markers")
    try:
        marker = Marker(marker_text) if marker_text else None
    except InvalidMarker as exc:
        raise entry.error("markers", f"invalid marker ({exc}); {_FIX}") from exc
    extras = tuple(sorted(canonicalize_name(e) for e in entry.strings("extras")))
    if "git" in entry.data:
        return Pin(_git_package(entry, name), marker, extras, group)
    if "path" in entry.data or "file" in entry.data:
        key = "path" if "path" in entry.data else "file"
        raise entry.error(
            key,
            "local paths and file URLs other than the project itself are not supported; "
            "publish the package to an index, or lock with uv",
        )
    version = pinned_version(entry.string("version"), entry.where("version"))
    index_name = entry.opt_string("index")
    if index_name is None:
        index = next(iter(sources.values()))
    elif index_name in sources:
        index = sources[index_name]
    else:
        raise entry.error(
            "index", f"{index_name!r} is not in _meta.sources ({', '.join(sources)}); {_FIX}"
        )
    hashes = sha256_hashes(entry.strings("hashes"), entry.where("hashes"), _FIX)
    return Pin(registry_package(name, version, index, hashes), marker, extras, group)


def _git_package(entry: TomlTable, name: str) -> LockedPackage:
    """``{"git": URL, "ref": <sha>}``: the commit Pipenv resolved."""
    url = entry.string("git")
    ref = entry.string("ref")
    subdirectory = entry.opt_string("subdirectory")
    location = url.removeprefix("git+")
    git = git_source(location, ref, entry.where("ref"), subdirectory=subdirectory or None)
    return LockedPackage(
        name=canonicalize_name(name),
        version=None,
        source=Source(SourceKind.GIT, f"{location}#{ref}", git=git),
    )
