"""Does a uv.lock still match the pyproject.toml files it was made from? (``uv sync --locked``)

uv records what it resolved from: per local package ``[package.metadata]``
(``requires-dist``, ``requires-dev``, ``provides-extras``) and in
``[manifest]`` the workspace members, the root's dependency groups and
``constraints``/``overrides``. A dependency added to pyproject.toml without
``uv lock`` leaves the lock behind, and an environment built from it would
silently lack the package: this module names every such difference.

Comparisons are semantic, not textual, because uv rewrites what it records
(``python_version < '3.10'`` becomes ``python_full_version < '3.10'``,
clauses are reordered, names and extras normalised): specifiers compare as
packaging ``SpecifierSet`` values, markers by evaluating both over a grid of
environments inside ``requires-python``. Where p2n cannot know what uv would
record (dynamic metadata, sources split by markers) it compares less, never
more: a false alarm would refuse a good lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion

from . import fsread
from .tomlfile import TomlTable, load_toml

_LOCAL_SOURCES = ("path", "directory", "editable", "virtual", "workspace")
_PYTHONS = tuple(f"3.{minor}.{patch}" for minor in range(6, 17) for patch in (0, 30))
_PLATFORMS = (
    ("linux", "Linux", "posix", "x86_64"),
    ("linux", "Linux", "posix", "aarch64"),
    ("darwin", "Darwin", "posix", "arm64"),
    ("darwin", "Darwin", "posix", "x86_64"),
    ("win32", "Windows", "nt", "AMD64"),
)
_IMPLEMENTATIONS = (("cpython", "CPython"), ("pypy", "PyPy"))


@dataclass(frozen=True)
class _Req:
    """One requirement as uv records it, reduced to what can be compared safely."""

    name: NormalizedName
    extras: frozenset[str]
    specifier: SpecifierSet
    marker: Marker | None
    """Parsed once; for an optional dependency, its marker ``and`` ``extra == "<extra>"``
    (combined by packaging, as uv records it)."""
    source: str
    """``registry``, ``git``, ``url``, ``local``, or ``any`` (sources split by markers)."""
    text: str
    """How to show it in a message."""

    @cached_property
    def marker_text(self) -> str:
        """packaging's canonical spelling of the marker, made once ("" for none)."""
        return str(self.marker) if self.marker is not None else ""


def uv_drift(lock_path: Path, data: Mapping[str, Any]) -> tuple[str, ...]:
    """What in the project's pyproject.toml files the lock does not reflect (() = it matches)."""
    top = TomlTable(lock_path, "", dict(data))
    root_dir = lock_path.parent
    root_pyproject = _read_pyproject(root_dir)
    if root_pyproject is None:
        return ()
    requires_python = _specifiers(top, "requires-python")
    grid = _Grid(requires_python)
    manifest = top.opt_table("manifest") or TomlTable(lock_path, "manifest", {})
    root_sources = _sources(root_pyproject)
    found: list[str] = []
    found += _members_drift(root_dir, root_pyproject, manifest)
    found += _requires_python_drift(root_dir, root_pyproject, top)
    tool_uv = _tool_uv(root_pyproject)
    for key, setting in (
        ("constraints", "constraint-dependencies"),
        ("overrides", "override-dependencies"),
        ("build-constraints", "build-constraint-dependencies"),
    ):
        expected = _pyproject_requirements(
            tool_uv.strings(setting), tool_uv, setting, {}, extra=None
        )
        actual = [_locked_requirement(t) for t in manifest.tables(key)]
        found += [f"[tool.uv] {setting}: {d}" for d in _compare(expected, actual, grid)]
    if _project_table(root_pyproject) is None:
        expected_groups = _groups(root_pyproject, root_sources)
        actual_groups = _locked_groups(manifest.opt_table("dependency-groups"))
        found += _groups_drift("the workspace root", expected_groups, actual_groups, grid)
    for package in top.tables("package"):
        found += _package_drift(package, root_dir, root_sources, grid)
    return tuple(found)


# -- reading pyproject.toml -----------------------------------------------------


def _read_pyproject(directory: Path) -> TomlTable | None:
    path = directory / "pyproject.toml"
    if not fsread.is_file(path):
        return None
    return TomlTable(path, "", load_toml(path))


def _project_table(pyproject: TomlTable) -> TomlTable | None:
    project = pyproject.opt_table("project")
    if project is None or "name" not in project.data:
        return None
    return project


def _tool_uv(pyproject: TomlTable) -> TomlTable:
    tool = pyproject.opt_table("tool")
    uv = tool.opt_table("uv") if tool is not None else None
    return uv or TomlTable(pyproject.file, "tool.uv", {})


def _sources(pyproject: TomlTable) -> dict[NormalizedName, str]:
    """``[tool.uv.sources]``: package name -> source class."""
    table = _tool_uv(pyproject).opt_table("sources")
    if table is None:
        return {}
    classes: dict[NormalizedName, str] = {}
    for name in table.names():
        value = table.data[name]
        if isinstance(value, dict) and not {"marker", "extra", "group"} & set(value):
            classes[canonicalize_name(name)] = _source_class(value)
        else:
            classes[canonicalize_name(name)] = "any"  # split by markers: compared by name only
    return classes


def _source_class(table: Mapping[str, Any]) -> str:
    if "git" in table:
        return "git"
    if "url" in table:
        return "url"
    if any(key in table for key in _LOCAL_SOURCES):
        return "local"
    return "registry"  # an index, or none


def _pyproject_requirements(
    texts: Iterable[str],
    table: TomlTable,
    key: str,
    sources: Mapping[NormalizedName, str],
    extra: str | None,
) -> list[_Req]:
    result = []
    for index, text in enumerate(texts):
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            reason = str(exc).splitlines()[0]
            raise table.error(f"{key}[{index}]", f"invalid requirement {text!r}: {reason}") from exc
        name = canonicalize_name(requirement.name)
        marker = requirement.marker
        if extra is not None:
            in_extra = Marker(f'extra == "{extra}"')
            marker = marker & in_extra if marker is not None else in_extra
        if requirement.url:
            source = "git" if requirement.url.startswith("git+") else "url"
            if requirement.url.startswith("file:"):
                source = "local"
        else:
            source = sources.get(name, "registry")
        shown = text.strip() + (f" (extra {extra})" if extra is not None else "")
        if source != "registry":
            shown += f" ({source} source)"
        result.append(
            _Req(
                name=name,
                extras=frozenset(canonicalize_name(e) for e in requirement.extras),
                specifier=requirement.specifier,
                marker=marker,
                source=source,
                text=shown,
            )
        )
    return result


def _groups(pyproject: TomlTable, sources: Mapping[NormalizedName, str]) -> dict[str, list[_Req]]:
    """PEP 735 ``[dependency-groups]`` (includes expanded) plus uv's legacy ``dev-dependencies``."""
    groups = pyproject.opt_table("dependency-groups")
    raw: dict[str, list[Any]] = {}
    if groups is not None:
        for name in groups.names():
            value = groups.data[name]
            if not isinstance(value, list):
                raise groups.error(name, "expected an array")
            raw[canonicalize_name(name)] = value
    table = groups or TomlTable(pyproject.file, "dependency-groups", {})

    def expand(group: str, seen: tuple[str, ...]) -> list[_Req]:
        if group in seen:
            raise table.error(group, f"include-group cycle: {' -> '.join((*seen, group))}")
        result: list[_Req] = []
        for index, item in enumerate(raw.get(group, [])):
            if isinstance(item, str):
                result += _pyproject_requirements([item], table, f"{group}[{index}]", sources, None)
            elif isinstance(item, dict) and isinstance(item.get("include-group"), str):
                result += expand(canonicalize_name(item["include-group"]), (*seen, group))
            else:
                raise table.error(
                    f"{group}[{index}]", "expected a requirement or {include-group = ...}"
                )
        return result

    expanded = {group: expand(group, ()) for group in raw}
    tool_uv = _tool_uv(pyproject)
    legacy = tool_uv.strings("dev-dependencies")
    if legacy:
        expanded.setdefault("dev", [])
        expanded["dev"] += _pyproject_requirements(
            legacy, tool_uv, "dev-dependencies", sources, None
        )
    return {group: reqs for group, reqs in expanded.items() if reqs}


# -- reading the lock -----------------------------------------------------------


def _specifiers(table: TomlTable, key: str) -> SpecifierSet | None:
    text = table.opt_string(key)
    if text is None:
        return None
    try:
        return SpecifierSet(text)
    except InvalidSpecifier as exc:
        raise table.error(key, f"invalid version specifier {text!r}") from exc


def _locked_requirement(table: TomlTable) -> _Req:
    name = canonicalize_name(table.string("name"))
    extras = frozenset(canonicalize_name(e) for e in table.strings("extras"))
    specifier = _specifiers(table, "specifier") or SpecifierSet()
    marker_text = table.opt_string("marker") or ""
    marker = None
    if marker_text:
        try:
            marker = Marker(marker_text)
        except InvalidMarker as exc:
            raise table.error("marker", f"invalid environment marker {marker_text!r}") from exc
    source = _source_class(table.data)
    shown = name + (f"[{','.join(sorted(extras))}]" if extras else "")
    shown += table.opt_string("specifier") or ""
    if marker_text:
        shown += f"; {marker_text}"
    if source != "registry":
        shown += f" ({source} source)"
    return _Req(name, extras, specifier, marker, source, shown)


def _locked_groups(table: TomlTable | None) -> dict[str, list[_Req]]:
    if table is None:
        return {}
    groups = {
        canonicalize_name(group): [_locked_requirement(t) for t in table.tables(group)]
        for group in table.names()
    }
    return {group: reqs for group, reqs in groups.items() if reqs}


# -- what is compared -------------------------------------------------------------


def _members_drift(root_dir: Path, root: TomlTable, manifest: TomlTable) -> list[str]:
    """``[manifest] members`` against the members pyproject.toml declares."""
    expected = set(_workspace_members(root_dir, root))
    locked = {canonicalize_name(m) for m in manifest.strings("members")}
    if not locked and len(expected) <= 1:
        return []  # a single project: uv records no members
    found = []
    missing = sorted(expected - locked)
    if missing:
        found.append(f"workspace members {', '.join(missing)} are not in the lock")
    gone = sorted(locked - expected)
    if gone:
        found.append(f"the lock's workspace members {', '.join(gone)} are gone from pyproject.toml")
    return found


def _workspace_members(root_dir: Path, root: TomlTable) -> dict[NormalizedName, Path]:
    """Name -> directory of the root project and every ``[tool.uv.workspace]`` member."""
    members: dict[NormalizedName, Path] = {}
    project = _project_table(root)
    if project is not None:
        members[canonicalize_name(project.string("name"))] = root_dir
    workspace = _tool_uv(root).opt_table("workspace")
    if workspace is None:
        return members
    excluded = {
        fsread.resolve(path)
        for pattern in workspace.strings("exclude")
        for path in _glob(root_dir, pattern)
    }
    for pattern in workspace.strings("members"):
        for directory in _glob(root_dir, pattern):
            if fsread.resolve(directory) in excluded or fsread.resolve(directory) == fsread.resolve(
                root_dir
            ):
                continue
            pyproject = _read_pyproject(directory)
            member = _project_table(pyproject) if pyproject is not None else None
            if member is not None:
                members[canonicalize_name(member.string("name"))] = directory
    return members


def _glob(root_dir: Path, pattern: str) -> Iterator[Path]:
    if PurePosixPath(pattern).is_absolute():
        return iter(())
    return (path for path in fsread.glob(root_dir, pattern) if fsread.is_dir(path))


def _requires_python_drift(root_dir: Path, root: TomlTable, top: TomlTable) -> list[str]:
    """The lock's ``requires-python`` against the members' (uv locks for their intersection)."""
    declared: list[str] = []
    for directory in _workspace_members(root_dir, root).values():
        pyproject = _read_pyproject(directory)
        project = _project_table(pyproject) if pyproject is not None else None
        text = project.opt_string("requires-python") if project is not None else None
        if text:
            declared.append(text)
    locked_text = top.opt_string("requires-python")
    if not declared or locked_text is None:
        return []  # without a declaration uv takes the interpreter's version
    try:
        expected = SpecifierSet(",".join(declared))
        locked = SpecifierSet(locked_text)
    except InvalidSpecifier:
        return []
    if any(
        expected.contains(v, prereleases=True) != locked.contains(v, prereleases=True)
        for v in _PYTHON_VERSIONS
    ):
        shown = ",".join(declared)
        return [f"requires-python is {shown} in pyproject.toml, {locked_text} in the lock"]
    return []


_PYTHON_VERSIONS = tuple(
    f"{major}.{minor}.{patch}" for major in (2, 3) for minor in range(0, 21) for patch in (0, 30)
)


def _package_drift(
    package: TomlTable, root_dir: Path, root_sources: Mapping[NormalizedName, str], grid: _Grid
) -> list[str]:
    """A local package's recorded metadata against its pyproject.toml."""
    source = package.opt_table("source")
    if source is None:
        return []
    location = next(
        (source.data[k] for k in ("editable", "virtual", "directory") if k in source.data), None
    )
    if not isinstance(location, str):
        return []
    directory = root_dir / location
    pyproject = _read_pyproject(directory)
    project = _project_table(pyproject) if pyproject is not None else None
    if pyproject is None or project is None:
        return []  # setup.py-only or no [project]: uv builds the metadata, nothing to compare
    name = canonicalize_name(project.string("name"))
    if canonicalize_name(package.string("name")) != name:
        return []
    metadata = package.opt_table("metadata") or TomlTable(package.file, package.keypath, {})
    sources = {**root_sources, **_sources(pyproject)}
    dynamic = set(project.strings("dynamic"))
    found: list[str] = []
    if not {"dependencies", "optional-dependencies"} & dynamic:
        expected = _pyproject_requirements(
            project.strings("dependencies"), project, "dependencies", sources, None
        )
        optional = project.opt_table("optional-dependencies")
        extras: list[str] = []
        if optional is not None:
            for extra in optional.names():
                extras.append(canonicalize_name(extra))
                expected += _pyproject_requirements(
                    optional.strings(extra), optional, extra, sources, canonicalize_name(extra)
                )
        actual = [_locked_requirement(t) for t in metadata.tables("requires-dist")]
        if "version" in dynamic and any(r.name == name for r in expected):
            # uv flattens self-referencing extras of a dynamic-version package: names only
            expected, actual = _names_only(expected, name), _names_only(actual, name)
        provided = metadata.strings("provides-extras") if "provides-extras" in metadata.data else []
        locked_extras = sorted({canonicalize_name(e) for e in provided})
        # The extras a marker may test: those either side declares (and none).
        named = frozenset({"", *extras, *locked_extras})
        found += [f"{name}: {d}" for d in _compare(expected, actual, grid, named)]
        if "provides-extras" in metadata.data and sorted(set(extras)) != locked_extras:
            found.append(
                f"{name}: extras are [{', '.join(sorted(set(extras)))}] in pyproject.toml, "
                f"[{', '.join(locked_extras)}] in the lock"
            )
    found += _groups_drift(
        name, _groups(pyproject, sources), _locked_groups(metadata.opt_table("requires-dev")), grid
    )
    return found


def _names_only(requirements: list[_Req], own: NormalizedName) -> list[_Req]:
    names = sorted({r.name for r in requirements if r.name != own})
    return [_Req(n, frozenset(), SpecifierSet(), None, "any", n) for n in names]


def _groups_drift(
    owner: str, expected: Mapping[str, list[_Req]], actual: Mapping[str, list[_Req]], grid: _Grid
) -> list[str]:
    found = []
    for group in sorted(set(expected) | set(actual)):
        if group not in actual:
            found.append(f"{owner}: dependency group '{group}' is not in the lock")
        elif group not in expected:
            found.append(f"{owner}: the lock's group '{group}' is gone from pyproject.toml")
        else:
            differences = _compare(expected[group], actual[group], grid)
            found += [f"{owner}: group '{group}': {d}" for d in differences]
    return found


def _compare(
    expected: list[_Req], actual: list[_Req], grid: _Grid, extras: frozenset[str] = frozenset({""})
) -> list[str]:
    """Differences between requirement lists, by name; each matched pair must be equivalent.

    ``extras``: the values of ``extra`` markers are compared on ("": none active).
    """
    found = []
    for name in sorted({r.name for r in expected} | {r.name for r in actual}):
        wanted = _unique(r for r in expected if r.name == name)
        locked = _unique(r for r in actual if r.name == name)
        if not locked:
            found += [f"{r.text} is not in the lock" for r in wanted]
            continue
        if not wanted:
            found += [_gone(r) for r in locked]
            continue
        if any(r.source == "any" for r in (*wanted, *locked)):
            continue
        unmatched = list(locked)
        missing = []
        for requirement in wanted:
            match = next((r for r in unmatched if _same(requirement, r, grid, extras)), None)
            if match is None:
                missing.append(requirement)
            else:
                unmatched.remove(match)
        if len(missing) == 1 and len(unmatched) == 1:
            found.append(f"{missing[0].text} is {unmatched[0].text} in the lock")
            continue
        found += [f"{r.text} is not in the lock" for r in missing]
        found += [_gone(r) for r in unmatched]
    return found


def _unique(requirements: Iterable[_Req]) -> list[_Req]:
    """Each requirement once: uv records a set (a group may include another that repeats one)."""
    seen: dict[tuple[frozenset[str], str, str, str], _Req] = {}
    for req in requirements:
        seen.setdefault((req.extras, str(req.specifier), req.marker_text, req.source), req)
    return list(seen.values())


def _gone(requirement: _Req) -> str:
    return f"the lock has {requirement.text}, which pyproject.toml no longer declares"


def _same(expected: _Req, locked: _Req, grid: _Grid, extras: frozenset[str]) -> bool:
    if expected.extras != locked.extras or expected.source != locked.source:
        return False
    if expected.source == "registry" and expected.specifier != locked.specifier:
        return False
    return expected.marker_text == locked.marker_text or grid.equivalent(
        expected.marker, locked.marker, extras
    )


# -- markers ----------------------------------------------------------------------


class _Grid:
    """Environments to compare markers on: Pythons inside requires-python, common platforms."""

    def __init__(self, requires_python: SpecifierSet | None) -> None:
        self.requires_python = requires_python

    @cached_property
    def environments(self) -> tuple[dict[str, str], ...]:
        """Built on first use: most locks need no semantic comparison at all."""
        requires_python = self.requires_python
        pythons = [
            v
            for v in _PYTHONS
            if requires_python is None or requires_python.contains(v, prereleases=True)
        ]
        return tuple(
            {
                "implementation_name": implementation,
                "implementation_version": python,
                "os_name": os_name,
                "platform_machine": machine,
                "platform_python_implementation": python_implementation,
                "platform_release": "",
                "platform_system": system,
                "platform_version": "",
                "python_full_version": python,
                "python_version": ".".join(python.split(".")[:2]),
                "sys_platform": platform,
            }
            for python in pythons or list(_PYTHONS)
            for platform, system, os_name, machine in _PLATFORMS
            for implementation, python_implementation in _IMPLEMENTATIONS
        )

    def equivalent(
        self, first: Marker | None, second: Marker | None, extras: frozenset[str]
    ) -> bool:
        """Whether two markers agree on every environment of the grid, for each extra given."""
        try:
            return all(
                _holds(first, environment, extra) == _holds(second, environment, extra)
                for environment in self.environments
                for extra in sorted(extras)
            )
        except (UndefinedComparison, UndefinedEnvironmentName, InvalidVersion):
            return False  # undecidable on this grid: call them different


def _holds(marker: Marker | None, environment: Mapping[str, str], extra: str) -> bool:
    """Whether ``marker`` holds with ``extra`` active (packaging evaluates it; "": none)."""
    if marker is None:
        return True
    return marker.evaluate({**environment, "extra": extra})
