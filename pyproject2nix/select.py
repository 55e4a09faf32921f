"""Selection: which locked packages, and which of their files, a target needs.

Given a :class:`~pyproject2nix.model.Lock`, the extras/groups the user asked
for and a :class:`~pyproject2nix.targets.Target`, walk the dependency graph
from the project's roots evaluating markers for that target (like
``uv sync`` would on that machine) and pick the best wheel by tag priority.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from urllib.parse import urlsplit

from packaging.markers import (
    Marker,
    UndefinedComparison,
    UndefinedEnvironmentName,
    prepare_environment,
)
from packaging.tags import Tag
from packaging.utils import (
    BuildTag,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import Version

from .errors import InputError, SelectionError
from .model import Artifact, Dependency, Lock, LockedPackage, SourceKind, Wheel
from .request import LeftOut
from .systems import DEFAULT_SYSTEMS
from .targets import SYSTEMS, SystemInfo, Target

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


class MarkerScope:
    """Evaluates markers on one target for one choice of extras and groups.

    Extras and groups are given to ``packaging`` as sets, never written into
    the marker text: ``extra`` holds the active extras of the package whose
    dependency is tested plus uv's conflict values
    (``extra-<len>-<package>-<extra>``, ``group-<len>-<package>-<group>``);
    PEP 751's ``extras`` and ``dependency_groups`` (``lock_file`` context)
    hold what the user selected for the project.
    """

    def __init__(
        self,
        lock: Lock,
        target: Target,
        conflicts: frozenset[str] = frozenset(),
        extras: frozenset[str] = frozenset(),
        groups: frozenset[str] = frozenset(),
    ) -> None:
        self.lock = lock
        self.target = target
        self.conflicts = conflicts
        self.extras = frozenset(canonicalize_name(e) for e in extras)
        self.groups = frozenset(canonicalize_name(g) for g in groups)
        self._environments: dict[frozenset[str], dict[str, str | Set[str]]] = {}
        self._results: dict[tuple[Marker, frozenset[str]], bool] = {}

    def holds(self, marker: Marker | None, extra: Iterable[str] = ()) -> bool:
        """Whether ``marker`` holds with ``extra`` (a package's active extras) selected."""
        if marker is None:
            return True
        active = self.conflicts.union(canonicalize_name(e) for e in extra)
        key = (marker, active)
        found = self._results.get(key)
        if found is None:
            try:
                found = marker.evaluate_prepared(self._environment(active))
            except (UndefinedComparison, UndefinedEnvironmentName) as exc:
                raise InputError(
                    f"{self.lock.path}: cannot evaluate the marker '{marker}' for "
                    f"{self.target.system.nix_system}: {exc}; re-lock to repair the lock"
                ) from exc
            self._results[key] = found
        return found

    def _environment(self, active: frozenset[str]) -> dict[str, str | Set[str]]:
        environment = self._environments.get(active)
        if environment is None:
            environment = prepare_environment(
                {
                    **self.target.marker_environment,
                    "extra": active,
                    "extras": self.extras,
                    "dependency_groups": self.groups,
                },
                context="lock_file",
            )
            self._environments[active] = environment
        return environment


def _fork_matches(package: LockedPackage, scope: MarkerScope) -> bool:
    """Whether one of a package's resolution markers holds (the project's extras selected)."""
    return not package.resolution_markers or any(
        scope.holds(m, scope.extras) for m in package.resolution_markers
    )


def supports(lock: Lock, target: Target) -> bool:
    """Whether the lock was resolved for ``target`` (uv's ``environments`` setting)."""
    scope = MarkerScope(lock, target)
    return not lock.supported_markers or any(scope.holds(m) for m in lock.supported_markers)


def requires(lock: Lock, target: Target) -> bool:
    """Whether the lock must serve ``target`` (uv's ``required-environments``)."""
    scope = MarkerScope(lock, target)
    return any(scope.holds(m) for m in lock.required_markers)


def marker_scope(lock: Lock, target: Target, options: Options) -> MarkerScope:
    """The markers' view of what the user selected: extras and groups of every root.

    uv encodes conflicting extras and groups in markers as ``extra ==
    'extra-<len>-<package>-<extra>'`` / ``'group-<len>-<package>-<group>'``;
    those values join the active ``extra`` set.
    """
    conflicts: set[str] = set()
    extras: set[str] = set()
    groups: set[str] = set()
    for name in lock.root_names:
        for root in lock.by_name(name):
            root_extras = _extras_for(options, root)
            root_groups = _groups_for(options, root, lock)
            extras |= root_extras
            groups |= root_groups
            conflicts |= {f"extra-{len(name)}-{name}-{e}" for e in root_extras}
            conflicts |= {f"group-{len(name)}-{name}-{g}" for g in root_groups}
    return MarkerScope(lock, target, frozenset(conflicts), frozenset(extras), frozenset(groups))


def _extras_for(options: Options, root: LockedPackage) -> set[str]:
    """The extras of ``root`` the user selected (``--extra`` names only those it has)."""
    declared = {name for name, _ in root.optional_dependencies}
    return declared if options.all_extras else declared & options.extras


def _newest_accepted(
    candidates: tuple[LockedPackage, ...], accepted: tuple[Version, ...]
) -> LockedPackage | None:
    """Of several pins that fit the target, the newest one the edge accepts.

    A Poetry 1.x lock (lock-version 2.0) pins a name once per Python range
    with nothing to tell the pins apart on the edge: cleo's lock pins cfgv
    3.4.0 (``python-versions = ">=3.8"``) and 3.5.0 (``">=3.10"``), and
    pre-commit asks for ``cfgv >=2.0.0``; on Python 3.11 both fit. Poetry's
    installer solves against the lock and takes the newest version that
    satisfies the edge; so does this. None when versions do not tell the
    remaining pins apart (the same version from two sources).
    """
    fitting = [
        (c.version, c) for c in candidates if c.version is not None and c.version in accepted
    ]
    if not fitting or len({version for version, _ in fitting}) != len(fitting):
        return None
    return max(fitting, key=lambda pair: pair[0])[1]


def _resolve(
    lock: Lock,
    owner: LockedPackage,
    dep: Dependency,
    scope: MarkerScope,
    prefer: Mapping[NormalizedName, LockedPackage],
) -> tuple[LockedPackage, bool]:
    """The locked package a dependency edge points at, on this target.

    The flag is True when the edge alone did not decide (:func:`_newest_accepted`):
    the walk may then prefer the pin another edge names exactly (``prefer``).
    """
    candidates = lock.by_name(dep.name)
    if dep.version is not None:
        candidates = tuple(c for c in candidates if c.version == dep.version)
    if dep.source is not None and len(candidates) > 1:
        candidates = tuple(c for c in candidates if c.source.location == dep.source)
    if len(candidates) > 1:
        candidates = tuple(c for c in candidates if _fork_matches(c, scope))
    if len(candidates) > 1 and dep.versions:
        preferred = prefer.get(dep.name)
        if preferred is not None and any(c is preferred for c in candidates):
            return preferred, True
        newest = _newest_accepted(candidates, dep.versions)
        if newest is not None:
            return newest, True
    if len(candidates) == 1:
        return candidates[0], False
    what = f"{dep.name}{' ' + str(dep.version) if dep.version else ''}"
    target = scope.target
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
    for extra in sorted(_extras_for(options, root)):
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
class Walk:
    """What one target installs before any file is chosen: the graph the markers leave."""

    target: Target
    packages: tuple[LockedPackage, ...]
    """Sorted by name; one version of each."""
    dependencies: Mapping[NormalizedName, tuple[NormalizedName, ...]]
    """Each package's dependencies on this target, sorted."""
    roots: tuple[NormalizedName, ...]


_Conflict = tuple[NormalizedName, LockedPackage | None, str]
"""A name reached at two versions: the pin an exact edge chose (if one did), and the
versions for the message."""


def walk(lock: Lock, target: Target, options: Options) -> Walk:
    """The packages reachable from the roots on ``target``, and the edges between them.

    Where an edge that several pins satisfy took the newest (``_resolve``) but
    another edge names an older pin exactly (real Poetry 2.5 lock: torch's
    ``nvidia-cublas = "*"`` beside cuda-toolkit's ``==13.4.1.3.*``, the two pins'
    markers overlapping on Linux), the walk is redone preferring the exact pin,
    as Poetry's installer finds the one version that satisfies every edge.
    """
    prefer: dict[NormalizedName, LockedPackage] = {}
    while True:
        walked, conflicts = _walk_once(lock, target, options, prefer)
        if walked is not None:
            return walked
        for name, exact, versions in conflicts:
            if exact is None or name in prefer:
                raise InputError(
                    f"{lock.path}: {target.system.nix_system} would need two versions of "
                    f"{name} ({versions}); "
                    "conflicting extras or groups cannot be installed together"
                )
        prefer.update((name, exact) for name, exact, _ in conflicts if exact is not None)


def _walk_once(
    lock: Lock, target: Target, options: Options, prefer: Mapping[NormalizedName, LockedPackage]
) -> tuple[Walk | None, list[_Conflict]]:
    """One walk, or every name it reached at two versions (so one more walk settles them)."""
    scope = marker_scope(lock, target, options)
    decided: set[int] = set()
    """Packages some edge (or the roots) chose exactly, not by the newest-pin tie-break."""
    active: dict[int, tuple[LockedPackage, set[str]]] = {}
    edges_of: dict[int, list[LockedPackage]] = {}
    # Membership by id() in sets: a list's `in` compares whole frozen dataclasses
    # (every field, deeply), which made a dense graph quadratic in its degree.
    children_of: dict[int, set[int]] = {}
    queue: list[int] = []
    queued: set[int] = set()

    def visit(package: LockedPackage, extras: Iterable[str]) -> None:
        key = id(package)
        if key not in active:
            active[key] = (package, set())
            queue.append(key)
            queued.add(key)
        known = active[key][1]
        new = set(extras) - known
        if new:
            known |= new
            if key not in queued:
                queue.append(key)
                queued.add(key)

    roots: list[LockedPackage] = []
    for name in lock.root_names:
        for root in lock.by_name(name):
            if _fork_matches(root, scope):
                roots.append(root)
    root_ids = {id(r) for r in roots}
    decided.update(root_ids)
    for root in roots:
        visit(root, ())
    while queue:
        key = queue.pop()
        queued.discard(key)
        package, extras = active[key]
        edges = (
            _root_edges(lock, package, options) if key in root_ids else list(package.dependencies)
        )
        for extra in sorted(extras):
            edges.extend(package.extra(extra))
        # Markers of a root's edges may test the extras the user selected for it.
        selected = _extras_for(options, package) | extras if key in root_ids else extras
        targets = edges_of.setdefault(key, [])
        children = children_of.setdefault(key, set())
        for dep in edges:
            if not scope.holds(dep.marker, selected):
                continue
            child, guessed = _resolve(lock, package, dep, scope, prefer)
            if not guessed:
                decided.add(id(child))
            if id(child) not in children:
                children.add(id(child))
                targets.append(child)
            visit(child, dep.extras)

    by_name: dict[NormalizedName, LockedPackage] = {}
    conflicts: list[_Conflict] = []
    for package, _ in active.values():
        other = by_name.setdefault(package.name, package)
        if other is not package:
            exact = [p for p in (other, package) if id(p) in decided]
            versions = f"{other.version} and {package.version}"
            conflicts.append((package.name, exact[0] if len(exact) == 1 else None, versions))
    if conflicts:
        return None, conflicts
    packages = tuple(sorted(by_name.values(), key=lambda p: p.name))
    return Walk(
        target=target,
        packages=packages,
        dependencies={
            p.name: tuple(sorted({c.name for c in edges_of.get(id(p), [])})) for p in packages
        },
        roots=tuple(sorted({r.name for r in roots})),
    ), []


def reachable(lock: Lock, target: Target, options: Options) -> tuple[LockedPackage, ...]:
    """Every package ``target`` installs, before any file is chosen (sorted by name)."""
    return walk(lock, target, options).packages


def select(lock: Lock, target: Target, options: Options) -> Selection:
    """Walk the lock from its roots for ``target`` and choose each package's file.

    Chosen wheels may still lack a URL or hash (poetry.lock); ``check_selection``
    applies the https/sha256 policy once they are known.
    Raises :class:`UnservedError` naming every package with neither a wheel
    for ``target`` nor an sdist.
    """
    return choose_files(lock, walk(lock, target, options), options)


def choose_files(
    lock: Lock,
    walked: Walk,
    options: Options,
    completed: Mapping[str, LockedPackage] = MappingProxyType({}),
) -> Selection:
    """Each walked package's file for the walk's target (see :func:`select`).

    ``completed``: packages the lock lists without files, by :attr:`LockedPackage.key`,
    with the files their index gave (:func:`~pyproject2nix.index.fill_missing_files`).
    """
    target = walked.target
    selected = []
    unserved = []
    ranks = _ranks(target)
    for walked_package in walked.packages:
        package = completed.get(walked_package.key, walked_package) if completed else walked_package
        # The best wheel decides both whether an sdist is needed and which wheel: rank once.
        best = None if package.source.kind in _FROM_SOURCE else _best_wheel(package, target, ranks)
        sdist = _chosen_sdist(lock, package, options, best)
        wheel = None
        if sdist is None and package.source.kind not in _FROM_SOURCE:
            wheel = best
            if wheel is None:
                unserved.append(package)
        selected.append(
            SelectedPackage(
                package=package,
                wheel=wheel,
                dependencies=walked.dependencies[package.name],
                sdist=sdist,
            )
        )
    if unserved:
        raise UnservedError(lock, target, tuple(unserved))
    return Selection(target=target, packages=tuple(selected), roots=walked.roots)


class UnservedError(SelectionError):
    """Packages with neither a wheel for the target nor an sdist: the system cannot be served."""

    def __init__(self, lock: Lock, target: Target, packages: tuple[LockedPackage, ...]) -> None:
        self.target = target
        self.packages = packages
        self.fix = (
            "list it in [tool.uv] required-environments and re-lock (uv then picks versions "
            "that ship files for it)"
            if lock.path.name == "uv.lock"
            else "lock versions that ship files for it"
        )
        super().__init__(
            f"{lock.path}: {self.reason}; choose the systems you need with --system, "
            f"or, to serve {target.system.nix_system}, {self.fix}"
        )

    @property
    def reason(self) -> str:
        """What is missing, on one line, without the lock's path or a fix."""
        first = self.packages[0]
        python = f"{self.target.python[0]}.{self.target.python[1]}"
        text = (
            f"package {first.name} {first.version} has no wheel for "
            f"{self.target.system.nix_system} with CPython {python} and no sdist to build "
            f"(lock has: {_describe_files(first)})"
        )
        others = self.packages[1:]
        if others:
            names = ", ".join(str(p.name) for p in others[:4])
            more = f" and {len(others) - 4} more" if len(others) > 4 else ""
            text += f"; nor have {names}{more}"
        return text


@dataclass(frozen=True)
class SystemSelections:
    """The selections of the systems kept, and the systems left out."""

    selections: tuple[Selection, ...]
    left_out: tuple[LeftOut, ...]


def candidate_targets(
    lock: Lock, asked: tuple[SystemInfo, ...], python: tuple[int, int]
) -> tuple[tuple[Target, ...], tuple[LeftOut, ...]]:
    """The targets to try, and the systems the lock excludes.

    Systems asked for must each be supported; by default every known system
    that the lock's ``supported-markers`` allow is tried.
    """
    if lock.one_platform and len(asked) != 1:
        raise InputError(
            f"{lock.path}: a compiled requirements file holds one platform's resolution, and "
            "it does not say which; pass the one it was compiled on with --system "
            "(and --python), or compile with `uv pip compile --universal`"
        )
    systems = asked or tuple(SYSTEMS[name] for name in DEFAULT_SYSTEMS)
    targets = [Target(system, python) for system in systems]
    unsupported = [t.system.nix_system for t in targets if not supports(lock, t)]
    if asked and unsupported:
        fix = (
            "add it to tool.uv.environments and re-lock"
            if lock.path.name == "uv.lock"
            else "lock again for that platform"
        )
        raise InputError(
            f"{lock.path}: the lock is not resolved for {', '.join(unsupported)} "
            f"(see supported-markers); {fix}"
        )
    left_out = tuple(
        LeftOut(name, "outside the lock's supported-markers ([tool.uv] environments)", False)
        for name in unsupported
    )
    kept = tuple(t for t in targets if t.system.nix_system not in unsupported)
    if not kept:
        raise InputError(
            f"{lock.path}: the lock supports none of {', '.join(DEFAULT_SYSTEMS)}; "
            "add one to tool.uv.environments and re-lock"
        )
    return kept, left_out


def select_systems(
    lock: Lock, targets: Iterable[Target], options: Options, strict: bool
) -> SystemSelections:
    """Select for each target; leave out a system some package has no file for.

    ``strict`` (systems named with ``--system``): every target must be served.
    Otherwise only systems the lock requires (``required-markers``) must be.
    Raises when no system is left.
    """
    return choose_systems(lock, [walk(lock, t, options) for t in targets], options, strict)


def choose_systems(
    lock: Lock,
    walks: Iterable[Walk],
    options: Options,
    strict: bool,
    completed: Mapping[str, LockedPackage] = MappingProxyType({}),
) -> SystemSelections:
    """:func:`select_systems` on walks already made (``completed``: see :func:`choose_files`)."""
    selections: list[Selection] = []
    left_out: list[LeftOut] = []
    for walked in walks:
        target = walked.target
        try:
            selections.append(choose_files(lock, walked, options, completed))
        except UnservedError as exc:
            if strict or requires(lock, target):
                raise
            left_out.append(LeftOut(target.system.nix_system, exc.reason, True, exc.fix))
    if not selections:
        reasons = "; ".join(f"{o.system}: {o.reason}" for o in left_out)
        raise SelectionError(
            f"{lock.path}: no system is left to generate for ({reasons}); choose versions "
            "that ship wheels or sdists for your systems and re-lock"
        )
    return SystemSelections(tuple(selections), tuple(left_out))


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


@lru_cache(maxsize=64)
def _ranks(target: Target) -> dict[frozenset[Tag], int | None]:
    """Memo of :func:`_rank` for one target, looked up once per package.

    Readers share one frozenset per distinct tag triple, and a lock repeats a
    few hundred triples over thousands of wheels; keying a cache by
    ``(tags, target)`` hashed the whole target dataclass for every wheel.
    """
    return {}


def _rank(tags: frozenset[Tag], target: Target) -> int | None:
    """How well a wheel's tags suit ``target`` (0 best; None: not installable)."""
    ranked = target.tag_priority
    return min((ranked[t] for t in tags if t in ranked), default=None)


def _best_wheel(
    package: LockedPackage, target: Target, ranks: dict[frozenset[Tag], int | None] | None = None
) -> Wheel | None:
    """The wheel whose tags rank best; among equal tags the higher build, as pip and uv.

    ``ranks``: :func:`_ranks` of ``target``, when the caller looked it up once for many
    packages (the lookup hashes the whole target).
    """
    best: tuple[int, Wheel] | None = None
    if ranks is None:
        ranks = _ranks(target)
    for wheel in package.wheels:
        if wheel.tags in ranks:
            rank = ranks[wheel.tags]
        else:
            rank = ranks[wheel.tags] = _rank(wheel.tags, target)
        if rank is None:
            continue
        if (
            best is None
            or rank < best[0]
            or (rank == best[0] and _build_tag(wheel) > _build_tag(best[1]))
        ):
            best = (rank, wheel)
    return best[1] if best is not None else None


def _build_tag(wheel: Wheel) -> BuildTag:
    """PEP 427's optional build number (``pkg-1.0-5-py3-none-any.whl``); () without one."""
    try:
        return parse_wheel_filename(wheel.filename)[2]
    except InvalidWheelFilename:
        return ()


def choose_sdist(
    lock: Lock, package: LockedPackage, target: Target, options: Options
) -> Artifact | None:
    """The sdist to build: no wheel fits ``target``, or ``--prefer-sdist`` names the package."""
    best = None if package.source.kind in _FROM_SOURCE else _best_wheel(package, target)
    return _chosen_sdist(lock, package, options, best)


def _chosen_sdist(
    lock: Lock, package: LockedPackage, options: Options, best_wheel: Wheel | None
) -> Artifact | None:
    """:func:`choose_sdist` given the package's best wheel for the target (None: none fits)."""
    if package.source.kind in _FROM_SOURCE or package.sdist is None:
        if package.name in options.prefer_sdist and package.source.kind not in _FROM_SOURCE:
            raise SelectionError(
                f"{lock.path}: --prefer-sdist {package.name}: the lock has no sdist of "
                f"{package.name} {package.version} (it has: {_describe_files(package)})"
            )
        return None
    if options.wants_sdist(package.name) or best_wheel is None:
        return package.sdist
    return None


def choose_wheel(lock: Lock, package: LockedPackage, target: Target) -> Wheel | None:
    """The best wheel of a registry/URL/path package for ``target``; None for source builds.

    Raises :class:`UnservedError` when no wheel fits (call it when no sdist is chosen).
    """
    if package.source.kind in _FROM_SOURCE:
        return None
    best = _best_wheel(package, target)
    if best is None:
        raise UnservedError(lock, target, (package,))
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
