"""Selection: which locked packages, and which of their files, a target needs.

Given a :class:`~pyproject2nix.model.Lock`, the extras/groups the user asked
for and a :class:`~pyproject2nix.targets.Target`, walk the dependency graph
from the project's roots evaluating markers for that target (like
``uv sync`` would on that machine) and pick the best wheel by tag priority.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from packaging.markers import Marker
from packaging.tags import Tag
from packaging.utils import NormalizedName, canonicalize_name

from .errors import InputError, SelectionError
from .model import Artifact, Dependency, Lock, LockedPackage, SourceKind, Wheel
from .targets import Target

MAIN_GROUP = "main"
"""The project's own dependencies, as a group name (Poetry's; ``--only main``)."""


@dataclass(frozen=True)
class Options:
    """What to install besides the project's own dependencies.

    Groups follow ``uv sync`` / ``poetry install``: the lock's default groups
    (uv: ``dev``; Poetry: every non-optional group) plus ``groups``, minus
    ``without_groups``; ``only_groups`` replaces all of that, and leaves out
    the project's own dependencies unless it names ``main``.
    """

    extras: frozenset[str] = frozenset()
    all_extras: bool = False
    groups: frozenset[str] = frozenset()
    no_default_groups: bool = False
    default_groups: frozenset[str] = frozenset({"dev"})
    without_groups: frozenset[str] = frozenset()
    only_groups: frozenset[str] | None = None
    prefer_sdist: frozenset[str] = frozenset()
    """Packages built from their sdist although a wheel fits (``:all:``: every package)."""
    prefer_wheel: frozenset[str] = frozenset()
    """Packages installed from a wheel although ``prefer_sdist`` names ``:all:``."""

    def wants_sdist(self, name: NormalizedName) -> bool:
        """Whether ``--prefer-sdist`` asks to build ``name`` from source."""
        if name in self.prefer_wheel:
            return False
        return name in self.prefer_sdist or ALL_PACKAGES in self.prefer_sdist


ALL_PACKAGES = ":all:"


@dataclass(frozen=True)
class SelectedPackage:
    """A package to install on one target: from a wheel, an sdist, or source (git, local)."""

    package: LockedPackage
    wheel: Wheel | None
    dependencies: tuple[NormalizedName, ...]
    sdist: Artifact | None = None
    """The sdist to build, when no wheel fits the target (or ``--prefer-sdist``)."""

    @property
    def name(self) -> NormalizedName:
        """The normalised package name."""
        return self.package.name


@dataclass(frozen=True)
class Selection:
    """Everything one target installs, sorted by name."""

    target: Target
    packages: tuple[SelectedPackage, ...]
    roots: tuple[NormalizedName, ...]


_EXTRA_TEST = re.compile(r"""extra\s*(==|!=)\s*(["'])(.*?)\2""")


def _with_extras_decided(text: str, active: frozenset[str]) -> str:
    """Replace each ``extra == 'x'`` test by a constant: true iff ``x`` is active.

    uv encodes conflicting extras and groups in markers as
    ``extra == 'extra-<len>-<package>-<extra>'`` / ``'group-<len>-<package>-<group>'``;
    PEP 508 evaluation knows one ``extra`` value only, while several can be active.
    """

    def constant(match: re.Match[str]) -> str:
        holds = (match.group(3) in active) == (match.group(1) == "==")
        # The evaluation environment has extra == "", so these are constants.
        return 'extra == ""' if holds else 'extra != ""'

    return _EXTRA_TEST.sub(constant, text)


@lru_cache(maxsize=65536)
def _evaluate(text: str, target: Target, active: frozenset[str]) -> bool:
    if "extra" in text:
        text = _with_extras_decided(text, active)
    return Marker(text).evaluate(target.marker_environment)


def _marker_holds(marker: Marker | None, target: Target, active: frozenset[str]) -> bool:
    return marker is None or _evaluate(str(marker), target, active)


def _fork_matches(package: LockedPackage, target: Target, active: frozenset[str]) -> bool:
    return not package.resolution_markers or any(
        _marker_holds(m, target, active) for m in package.resolution_markers
    )


def supports(lock: Lock, target: Target) -> bool:
    """Whether the lock was resolved for ``target`` (uv's ``environments`` setting)."""
    return not lock.supported_markers or any(
        _marker_holds(m, target, frozenset()) for m in lock.supported_markers
    )


def conflict_markers(lock: Lock, options: Options) -> frozenset[str]:
    """The ``extra`` values uv's conflict markers use for what the user selected."""
    active: set[str] = set()
    for name in lock.root_names:
        for root in lock.by_name(name):
            extras = (
                {e for e, _ in root.optional_dependencies} if options.all_extras else options.extras
            )
            active |= {f"extra-{len(name)}-{name}-{e}" for e in extras}
            active |= {f"group-{len(name)}-{name}-{g}" for g in _groups_for(options, root, lock)}
    return frozenset(active)


def _resolve(
    lock: Lock, owner: LockedPackage, dep: Dependency, target: Target, active: frozenset[str]
) -> LockedPackage:
    """The locked package a dependency edge points at, on this target."""
    candidates = lock.by_name(dep.name)
    if dep.version is not None:
        candidates = tuple(c for c in candidates if c.version == dep.version)
    if dep.source is not None and len(candidates) > 1:
        candidates = tuple(c for c in candidates if c.source.location == dep.source)
    if len(candidates) > 1:
        candidates = tuple(c for c in candidates if _fork_matches(c, target, active))
    if len(candidates) == 1:
        return candidates[0]
    what = f"{dep.name}{' ' + str(dep.version) if dep.version else ''}"
    if not candidates:
        raise InputError(
            f"{lock.path}: {owner.name} depends on {what}, which is not locked "
            f"for {target.system.nix_system}; re-lock to repair the lock"
        )
    raise InputError(
        f"{lock.path}: {owner.name} depends on {what}, which the lock pins several times "
        f"for {target.system.nix_system}; re-lock to repair the lock"
    )


def _root_edges(lock: Lock, root: LockedPackage, options: Options) -> list[Dependency]:
    """A root's dependencies plus the extras and groups the user selected."""
    main = options.only_groups is None or MAIN_GROUP in options.only_groups
    edges = list(root.dependencies) if main else []
    extras = {name for name, _ in root.optional_dependencies} if options.all_extras else set()
    extras |= {e for e in options.extras if root.extra(e)}
    for extra in sorted(extras):
        edges.extend(root.extra(extra))
    for group in sorted(_groups_for(options, root, lock)):
        edges.extend(root.group(group) or dict(lock.root_groups).get(group, ()))
    return edges


def _groups_for(options: Options, root: LockedPackage, lock: Lock) -> set[str]:
    available = {name for name, _ in root.dependency_groups} | {n for n, _ in lock.root_groups}
    if options.only_groups is not None:
        return set(options.only_groups) & available
    wanted = set(options.groups)
    if not options.no_default_groups:
        defaults = options.default_groups if lock.default_groups is None else lock.default_groups
        wanted |= defaults & available
    return (wanted - options.without_groups) & available


def check_options(lock: Lock, options: Options) -> None:
    """Reject extras and groups that no root defines (a typo should not pass silently)."""
    roots = [p for name in lock.root_names for p in lock.by_name(name)]
    extras = {name for root in roots for name, _ in root.optional_dependencies}
    groups = {name for root in roots for name, _ in root.dependency_groups}
    groups |= {name for name, _ in lock.root_groups}
    for extra in sorted(options.extras - extras):
        raise InputError(
            f"{lock.path}: the project has no extra '{extra}' "
            f"(it has: {', '.join(sorted(extras)) or 'none'})"
        )
    asked = options.groups | options.without_groups | (options.only_groups or frozenset())
    for group in sorted(asked - groups - {MAIN_GROUP}):
        raise InputError(
            f"{lock.path}: the project has no dependency group '{group}' "
            f"(it has: {', '.join(sorted(groups)) or 'none'})"
        )


@dataclass(frozen=True)
class _Walk:
    packages: dict[NormalizedName, LockedPackage]
    edges: dict[int, list[LockedPackage]]
    roots: list[LockedPackage]


def _walk(lock: Lock, target: Target, options: Options) -> _Walk:
    """The packages reachable from the roots on ``target``, and the edges between them."""
    conflicts = conflict_markers(lock, options)
    active: dict[int, tuple[LockedPackage, set[str]]] = {}
    edges_of: dict[int, list[LockedPackage]] = {}
    queue: list[int] = []

    def visit(package: LockedPackage, extras: Iterable[str]) -> None:
        key = id(package)
        if key not in active:
            active[key] = (package, set())
            queue.append(key)
        known = active[key][1]
        new = set(extras) - known
        if new:
            known |= new
            if key not in queue:
                queue.append(key)

    roots: list[LockedPackage] = []
    for name in lock.root_names:
        for root in lock.by_name(name):
            if _fork_matches(root, target, conflicts):
                roots.append(root)
    root_ids = {id(r) for r in roots}
    for root in roots:
        visit(root, ())
    while queue:
        key = queue.pop()
        package, extras = active[key]
        edges = (
            _root_edges(lock, package, options) if key in root_ids else list(package.dependencies)
        )
        for extra in sorted(extras):
            edges.extend(package.extra(extra))
        targets = edges_of.setdefault(key, [])
        for dep in edges:
            if not _marker_holds(dep.marker, target, conflicts):
                continue
            child = _resolve(lock, package, dep, target, conflicts)
            if child not in targets:
                targets.append(child)
            visit(child, dep.extras)

    by_name: dict[NormalizedName, LockedPackage] = {}
    for package, _ in active.values():
        other = by_name.setdefault(package.name, package)
        if other is not package:
            raise InputError(
                f"{lock.path}: {target.system.nix_system} would need two versions of "
                f"{package.name} ({other.version} and {package.version}); "
                "conflicting extras or groups cannot be installed together"
            )
    return _Walk(packages=by_name, edges=edges_of, roots=roots)


def reachable(lock: Lock, target: Target, options: Options) -> tuple[LockedPackage, ...]:
    """Every package ``target`` installs, before any file is chosen (sorted by name)."""
    walk = _walk(lock, target, options)
    return tuple(sorted(walk.packages.values(), key=lambda p: p.name))


def select(lock: Lock, target: Target, options: Options) -> Selection:
    """Walk the lock from its roots for ``target`` and choose each package's file.

    Chosen wheels may still lack a URL or hash (poetry.lock); ``check_selection``
    applies the https/sha256 policy once they are known.
    """
    walk = _walk(lock, target, options)
    selected = []
    for package in sorted(walk.packages.values(), key=lambda p: p.name):
        sdist = choose_sdist(lock, package, target, options)
        selected.append(
            SelectedPackage(
                package=package,
                wheel=None if sdist is not None else choose_wheel(lock, package, target),
                dependencies=tuple(sorted({c.name for c in walk.edges.get(id(package), [])})),
                sdist=sdist,
            )
        )
    roots = tuple(sorted({r.name for r in walk.roots}))
    return Selection(target=target, packages=tuple(selected), roots=roots)


@dataclass(frozen=True)
class FilePolicy:
    """Opt-ins to fetch files the default policy refuses (each noted in the output)."""

    allow_insecure_http: bool = False
    """``http://`` URLs: Nix still checks the sha256, but the download is not private."""
    allow_file_urls: bool = False
    """``file://`` URLs: the file must exist at that path on every machine that builds."""


def check_selection(
    lock: Lock, selection: Selection, policy: FilePolicy = FilePolicy()
) -> list[str]:
    """Apply :func:`check_artifact` to every chosen file (after URLs are resolved).

    Returns one note per file that only the ``policy`` opt-ins let through.
    """
    notes = []
    for selected in selection.packages:
        if selected.package.source.kind is SourceKind.PATH:
            continue  # a file of the project's own tree, copied by Nix and hash-checked
        for artifact in (selected.wheel, selected.sdist):
            if artifact is not None:
                note = check_artifact(lock, selected.name, artifact.url, artifact.sha256, policy)
                if note:
                    notes.append(note)
    return notes


_FROM_SOURCE = (SourceKind.EDITABLE, SourceKind.VIRTUAL, SourceKind.DIRECTORY, SourceKind.GIT)


@lru_cache(maxsize=16384)
def _rank(tags: frozenset[Tag], target: Target) -> int | None:
    """How well a wheel's tags suit ``target`` (0 best; None: not installable).

    Cached: readers share one frozenset per distinct tag triple, and a lock
    repeats a few hundred triples over thousands of wheels.
    """
    ranked = target.tag_priority
    return min((ranked[t] for t in tags if t in ranked), default=None)


def _best_wheel(package: LockedPackage, target: Target) -> Wheel | None:
    best: tuple[int, Wheel] | None = None
    for wheel in package.wheels:
        rank = _rank(wheel.tags, target)
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, wheel)
    return best[1] if best is not None else None


def choose_sdist(
    lock: Lock, package: LockedPackage, target: Target, options: Options
) -> Artifact | None:
    """The sdist to build: no wheel fits ``target``, or ``--prefer-sdist`` names the package."""
    if package.source.kind in _FROM_SOURCE or package.sdist is None:
        if package.name in options.prefer_sdist and package.source.kind not in _FROM_SOURCE:
            raise SelectionError(
                f"{lock.path}: --prefer-sdist {package.name}: the lock has no sdist of "
                f"{package.name} {package.version} (it has: {_describe_files(package)})"
            )
        return None
    if options.wants_sdist(package.name) or _best_wheel(package, target) is None:
        return package.sdist
    return None


def choose_wheel(lock: Lock, package: LockedPackage, target: Target) -> Wheel | None:
    """The best wheel of a registry/URL/path package for ``target``; None for source builds."""
    if package.source.kind in _FROM_SOURCE:
        return None
    best = _best_wheel(package, target)
    if best is None:
        raise SelectionError(
            f"{lock.path}: package {package.name} {package.version} has no wheel for "
            f"{target.system.nix_system} with CPython {target.python[0]}.{target.python[1]} "
            f"and no sdist to build (lock has: {_describe_files(package)}); choose the "
            "systems you need with --system or a version that ships wheels"
        )
    return best


def _describe_files(package: LockedPackage, shown: int = 4) -> str:
    """A short list of a package's files for error messages."""
    files = [w.filename for w in package.wheels]
    if package.sdist is not None:
        files.append(package.sdist.filename)
    if not files:
        return "no files"
    more = f" and {len(files) - shown} more" if len(files) > shown else ""
    return ", ".join(files[:shown]) + more


def check_artifact(
    lock: Lock, name: str, url: str, sha256: str, policy: FilePolicy = FilePolicy()
) -> str | None:
    """Refuse files that cannot be pinned safely: no sha256 hash, or not fetched over HTTPS.

    Returns a note when the file passes only thanks to an opt-in of ``policy``.
    """
    if not url:
        raise SelectionError(
            f"{lock.path}: package {name}: no URL is known for its file; "
            "the lock names no index for it"
        )
    if not sha256:
        raise SelectionError(
            f"{lock.path}: package {name}: {url} has no sha256 hash in the lock; "
            "re-lock against an index that publishes hashes, or pass --trust-index-hashes "
            "to take the index's sha256"
        )
    if url.startswith("https://") or _loopback(url):
        return None
    if url.startswith("http://") and policy.allow_insecure_http:
        return f"{name}: {url} (plain http, allowed by --allow-insecure-http)"
    if url.startswith("file://") and policy.allow_file_urls:
        return f"{name}: {url} (a file of this machine, allowed by --allow-file-urls)"
    if url.startswith("file://"):
        raise SelectionError(
            f"{lock.path}: package {name}: {url} is a file:// URL, which other machines "
            "cannot fetch; serve it from an index, or pass --allow-file-urls"
        )
    raise SelectionError(
        f"{lock.path}: package {name}: {url} is not an https:// URL; point the index at "
        "https:// and re-lock, or pass --allow-insecure-http (the sha256 is still checked)"
    )


def _loopback(url: str) -> bool:
    """Plain http to this machine (a local index or mirror): nobody in between to trust."""
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


def project_name(text: str) -> NormalizedName:
    """PEP 503 form of a project name."""
    return canonicalize_name(text)
