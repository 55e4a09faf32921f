"""``p2n generate``: lock file in, rendered files out.

The one place that wires the pipeline together: read the project and its
lock, choose the interpreter, select packages for every system, render, and
(in the CLI) write. Nothing here formats Nix or parses TOML itself.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from packaging.utils import NormalizedName, canonicalize_name

from .buildlock import BUILD_LOCK_FILE, Resolver, read_build_lock
from .errors import InputError
from .gitsource import check_git_policy, parse_git_location
from .index import IndexClient, fill_missing_files, resolve_urls
from .model import Lock, LockedPackage, SourceKind
from .overrides import OVERRIDES_FILE, read_overrides
from .project import LocalProject, read_project
from .render import OUTPUT_DIR, LocalMember, RenderInput, render_files
from .select import (
    ALL_PACKAGES,
    FilePolicy,
    LeftOut,
    Options,
    Selection,
    candidate_targets,
    check_options,
    check_selection,
    reachable,
    select_systems,
)
from .sourcebuild import local_versions, plan_source_builds
from .sourceroot import SourceRoot, find_source_root
from .targets import Target, default_python, parse_python, parse_systems
from .tomlfile import load_toml
from .uvlock import read_uv_lock


@dataclass(frozen=True)
class GenerateRequest:
    """What the user asked ``p2n generate`` for."""

    project_dir: Path
    python: str | None = None
    systems: tuple[str, ...] = ()
    """Nix systems asked for, each strictly; (): every system the lock can serve."""
    options: Options = field(default_factory=Options)
    lock_file: Path | None = None
    """``--lock``: the lock file (in ``project_dir``); None: the first one found."""
    trust_index_hashes: bool = False
    """Take sha256 hashes the lock lacks from the package index (and say so)."""
    offline: bool = False
    """Ask package indexes nothing: file URLs come from the cache only."""
    cache_dir: Path | None = None
    """Where index pages are cached; None: ``$XDG_CACHE_HOME/p2n``."""
    progress: Callable[[int, int], None] | None = field(default=None, compare=False)
    """Told ``(done, total)`` as index pages arrive."""
    online: bool = True
    """May fetch sources and resolve build requirements (``p2n check`` may not)."""
    policy: FilePolicy = field(default_factory=FilePolicy)
    """Opt-ins for http:// and file:// URLs."""
    frozen: bool = False
    """Take the lock as it is even if it no longer matches pyproject.toml (uv's ``--frozen``)."""
    recorded: bool = False
    """Made from the settings in ``p2n/lock.nix`` (``p2n check``), not from flags."""
    root: Path | None = None
    """``--root``: local sources may live anywhere below it; None: see :mod:`sourceroot`."""

    def flag(self, name: str) -> str:
        """How errors name a setting: the flag the user passed, or the recorded setting."""
        if self.recorded:
            return f"{name.removeprefix('--')} (recorded in p2n/lock.nix)"
        return name

    def settings(self) -> dict[str, object]:
        """What shapes the output besides the input files, canonical and machine-independent.

        Recorded in the generated files so ``p2n check`` can regenerate exactly.
        """
        return {
            "python": self.python,
            "systems": sorted(self.systems),
            "extras": sorted(self.options.extras),
            "all_extras": self.options.all_extras,
            "groups": sorted(self.options.groups),
            "no_default_groups": self.options.no_default_groups,
            **self._lock_settings(),
            "prefer_sdist": sorted(self.options.prefer_sdist),
            "prefer_wheel": sorted(self.options.prefer_wheel),
        }

    def _lock_settings(self) -> dict[str, object]:
        """Lock choice and poetry-style group selection, recorded only when not the default."""
        recorded: dict[str, object] = {}
        if self.options.without_groups:
            recorded["without_groups"] = sorted(self.options.without_groups)
        if self.options.only_groups is not None:
            recorded["only_groups"] = sorted(self.options.only_groups)
        if self.lock_file is not None:
            recorded["lock_file"] = self.lock_file.name
        if self.trust_index_hashes:
            recorded["trust_index_hashes"] = True
        if self.policy.allow_insecure_http:
            recorded["allow_insecure_http"] = True
        if self.policy.allow_file_urls:
            recorded["allow_file_urls"] = True
        if self.root is not None:
            # Relative, so the recorded setting is the same on every machine.
            relative = os.path.relpath(self.root.resolve(), self.project_dir.resolve())
            recorded["root"] = PurePosixPath(Path(relative)).as_posix()
        return recorded

    @classmethod
    def from_settings(cls, project_dir: Path, settings: dict[str, object]) -> GenerateRequest:
        """The request that :meth:`settings` recorded (unknown keys are ignored)."""

        def strings(key: str) -> tuple[str, ...]:
            value = settings.get(key, [])
            return tuple(str(v) for v in value) if isinstance(value, list) else ()

        python = settings.get("python")
        return cls(
            recorded=True,
            project_dir=project_dir,
            python=str(python) if python is not None else None,
            systems=strings("systems"),
            lock_file=Path(str(settings["lock_file"])) if settings.get("lock_file") else None,
            root=project_dir / str(settings["root"]) if settings.get("root") else None,
            trust_index_hashes=bool(settings.get("trust_index_hashes", False)),
            policy=FilePolicy(
                allow_insecure_http=bool(settings.get("allow_insecure_http", False)),
                allow_file_urls=bool(settings.get("allow_file_urls", False)),
            ),
            options=Options(
                extras=frozenset(strings("extras")),
                all_extras=bool(settings.get("all_extras", False)),
                groups=frozenset(strings("groups")),
                no_default_groups=bool(settings.get("no_default_groups", False)),
                without_groups=frozenset(strings("without_groups")),
                only_groups=frozenset(strings("only_groups"))
                if isinstance(settings.get("only_groups"), list)
                else None,
                prefer_sdist=frozenset(strings("prefer_sdist")),
                prefer_wheel=frozenset(strings("prefer_wheel")),
            ),
        )


@dataclass(frozen=True)
class GeneratePlan:
    """The generated files and a summary to print."""

    files: dict[str, bytes]
    python: tuple[int, int]
    package_counts: dict[str, int]
    lock_path: Path
    other_locks: tuple[str, ...] = ()
    """Lock files found but not read (another format took precedence)."""
    resolved_files: int = 0
    """Files whose URL (or hash) package indexes gave."""
    index_requests: int = 0
    index_cached: int = 0
    """Index pages requested / taken from the cache."""
    trusted: tuple[str, ...] = ()
    """Files whose sha256 came from an index (``--trust-index-hashes``)."""
    drift: tuple[str, ...] = ()
    """How the lock disagrees with pyproject.toml (only with ``frozen``; else an error)."""
    left_out: tuple[LeftOut, ...] = ()
    """Systems generated by default that the lock cannot serve, and why."""


LOCK_NAMES = ("uv.lock", "poetry.lock", "pylock.toml", "Pipfile.lock", "requirements.txt")
"""Lock files p2n reads, in the order it prefers them."""


def find_locks(
    project_dir: Path, lock_file: Path | None = None, flag: str = "--lock"
) -> list[Path]:
    """``--lock``, else every lock file of the project, preferred first.

    uv.lock, poetry.lock, pylock.toml, then ``pylock.<name>.toml`` (PEP 751).
    """
    if lock_file is not None:
        path = lock_file if lock_file.is_file() else project_dir / lock_file
        if not path.is_file():
            raise InputError(f"{flag} {lock_file}: no such file")
        if path.resolve().parent != project_dir.resolve():
            raise InputError(
                f"{flag} {lock_file}: the lock must be in the project directory {project_dir} "
                "(beside pyproject.toml)"
            )
        return [path]
    found = [project_dir / name for name in LOCK_NAMES if (project_dir / name).is_file()]
    named_pylocks = sorted(project_dir.glob("pylock.*.toml"))
    if named_pylocks:
        from .pylock import is_pylock_name

        found += [p for p in named_pylocks if is_pylock_name(p.name)]
    if not found:
        raise InputError(
            f"{project_dir}: no uv.lock found; run `uv lock` first "
            "(p2n also reads poetry.lock, pylock.toml, Pipfile.lock and requirements.txt)"
        )
    if len(found) > 1 and all(p.name.startswith("pylock.") for p in found[:2]):
        raise InputError(
            f"{project_dir}: several PEP 751 locks ({', '.join(p.name for p in found)}); "
            "choose one with --lock"
        )
    return found


def find_lock(project_dir: Path, lock_file: Path | None = None) -> Path:
    """The lock file ``p2n generate`` reads (see :func:`find_locks`)."""
    return find_locks(project_dir, lock_file)[0]


def read_lock(path: Path, project: LocalProject) -> Lock:
    """Parse a lock of any supported format, chosen by its file name."""
    if path.name == "uv.lock":
        return read_uv_lock(path, project.name, drift=True)
    # Imported here: a uv.lock (the common case) does not pay for the other readers.
    from .poetrylock import read_poetry_lock
    from .pylock import is_pylock_name, read_pylock

    if path.name == "poetry.lock":
        return read_poetry_lock(path, path.parent / "pyproject.toml")
    if path.name == "Pipfile.lock":
        from .pipfilelock import read_pipfile_lock

        return read_pipfile_lock(path, project.name)
    if path.suffix == ".txt":
        from .requirements import read_requirements

        return read_requirements(path, project.name)
    if is_pylock_name(path.name):
        return read_pylock(path, project.name)
    top = load_toml(path)
    if "metadata" in top and "package" in top:
        return read_poetry_lock(path, path.parent / "pyproject.toml")
    if "lock-version" in top:
        return read_pylock(path, project.name)
    return read_uv_lock(path, project.name, drift=True)


def relock_command(lock_path: Path) -> str:
    """The command that brings a lock back in line with pyproject.toml."""
    return "poetry lock" if "poetry" in lock_path.name else "uv lock"


def drift_summary(drift: tuple[str, ...], shown: int = 4) -> str:
    """The first few differences between lock and pyproject.toml, on one line."""
    more = len(drift) - shown
    return "; ".join(drift[:shown]) + (f"; and {more} more" if more > 0 else "")


class LockDriftError(InputError):
    """The lock no longer matches pyproject.toml (``p2n check`` reports it as stale)."""

    def __init__(self, lock: Lock) -> None:
        self.lock_path = lock.path
        self.drift = lock.drift
        super().__init__(
            f"{lock.path}: the lock does not match pyproject.toml ({drift_summary(lock.drift)}); "
            f"run `{relock_command(lock.path)}` to update it, or pass --frozen to use it as it is"
        )


def choose_python(request: GenerateRequest, lock: Lock, project: LocalProject) -> tuple[int, int]:
    """--python, else .python-version, else the oldest nixpkgs CPython allowed."""
    requires = lock.requires_python if str(lock.requires_python) else project.requires_python
    pinned_file = request.project_dir / ".python-version"
    if request.python is not None:
        chosen = parse_python(request.python, request.flag("--python"))
    elif pinned_file.is_file():
        text = read_python_version(pinned_file)
        chosen = parse_python(".".join(text.split(".")[:2]), str(pinned_file))
    elif requires is not None:
        return default_python(requires, str(lock.path))
    else:
        return parse_python("3.12")
    full = f"{chosen[0]}.{chosen[1]}.99"
    if requires is not None and not requires.contains(full, prereleases=True):
        raise InputError(
            f"{lock.path}: CPython {chosen[0]}.{chosen[1]} is outside requires-python "
            f"{requires}; choose another --python"
        )
    return chosen


def check_inside(path: Path, root: Path) -> None:
    """An input file that is a symlink out of the project is refused, not read.

    The flake cannot read it either; and p2n would quote its content in errors
    (a TOML syntax error shows the offending line).
    """
    if not path.is_symlink():
        return
    resolved = path.resolve()
    if root not in resolved.parents:
        raise InputError(
            f"{path}: is a symlink out of the project directory {root}; a flake can only "
            "read files below its root: replace the link by the file"
        )


def read_python_version(path: Path) -> str:
    """The first request of a ``.python-version`` file, as uv reads it.

    Blank lines and ``#`` comments are skipped, a UTF-8 BOM is ignored, and a
    ``cpython-``/``cpython@`` prefix is dropped (``3.12.4`` stays whole).
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text ({exc.reason}); write a version such as 3.12"
        ) from exc
    for line in text.splitlines():
        request = line.strip()
        if request and not request.startswith("#"):
            return request.removeprefix("cpython-").removeprefix("cpython@")
    raise InputError(f"{path}: holds no Python version; write one such as 3.12, or delete it")


def _members(
    source_root: SourceRoot, lock: Lock, selections: list[Selection]
) -> dict[str, LocalMember]:
    """Read pyproject.toml of every local package that some system installs."""
    members: dict[str, LocalMember] = {}
    for selection in selections:
        for selected in selection.packages:
            package = selected.package
            if selected.wheel is not None or selected.sdist is not None or package.name in members:
                continue
            if package.source.kind is SourceKind.GIT:
                continue
            if package.source.kind is SourceKind.VIRTUAL:
                continue
            location = package.source.location
            where = f"{lock.path}: package {package.name} at {location}"
            relative = source_root.relative(location, where)
            directory = source_root.project_dir / relative
            source_root.inside(
                directory / "pyproject.toml", f"{lock.path}: {location}/pyproject.toml"
            )
            members[package.name] = LocalMember(path=relative, project=read_project(directory))
    return members


def _check_local_files(source_root: SourceRoot, lock: Lock, selections: list[Selection]) -> None:
    """Wheels and sdists of path sources must be files inside the source root.

    A flake reads only the tree it is built from: a file outside would be read
    from outside it (or not at all on another machine); a symlink out counts as
    outside. Their paths are rendered as the lock has them, so they must be relative.
    """
    for selection in selections:
        for selected in selection.packages:
            if selected.package.source.kind is not SourceKind.PATH:
                continue
            for artifact in (selected.wheel, selected.sdist):
                if artifact is None:
                    continue
                where = f"{lock.path}: package {selected.name}: {artifact.url}"
                source_root.inside(lock.path.parent / artifact.url, where)
                if PurePosixPath(artifact.url).is_absolute():
                    raise InputError(
                        f"{where} is an absolute path, which only this machine has: "
                        "name it relative to the project and re-lock"
                    )


_PACKAGE_NAME = re.compile(r"[a-z0-9]([a-z0-9._-]*[a-z0-9])?")
"""A PEP 508 name after PEP 503 normalisation (what uv accepts)."""
_STORE_NAME = re.compile(r"[A-Za-z0-9+_?=-][A-Za-z0-9+._?=-]*")
"""What Nix accepts as a store path name: wheels and sdists are fetched under their file name."""
_SCRIPT_NAME = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9._+-]*")
"""A console script: one file in bin/, so no separators, no leading dot or dash, no spaces."""


def _check_project_name(project: LocalProject) -> None:
    """``[project].name`` must be a PEP 508 name (it names derivations and the environment)."""
    if project.name is not None and not _PACKAGE_NAME.fullmatch(canonicalize_name(project.name)):
        raise InputError(
            f"{project.directory / 'pyproject.toml'}: project.name {project.name!r} is not a "
            "valid package name (letters, digits, '.', '-', '_'; PEP 508)"
        )


def _check_names(
    lock: Lock, selections: list[Selection], members: dict[str, LocalMember]
) -> None:
    """Names that become Nix attributes, store path names and files must be plain names.

    Checked here, with the file and fix named, instead of failing later in Nix
    (or writing ``bin/../../x``).
    """
    for package in lock.packages:
        if not _PACKAGE_NAME.fullmatch(package.name):
            raise InputError(
                f"{lock.path}: package name {package.name!r} is not a valid package name "
                "(letters, digits, '.', '-', '_'; PEP 508); fix the lock and re-lock"
            )
    for selection in selections:
        for selected in selection.packages:
            for artifact in (selected.wheel, selected.sdist):
                if artifact is not None and not _STORE_NAME.fullmatch(artifact.filename):
                    raise InputError(
                        f"{lock.path}: package {selected.name}: file name {artifact.filename!r} "
                        "holds characters Nix refuses in a store path name; fix the lock"
                    )
    for name, member in sorted(members.items()):
        for script, _ in member.project.scripts:
            if not _SCRIPT_NAME.fullmatch(script):
                raise InputError(
                    f"{member.project.directory / 'pyproject.toml'}: script {script!r} of "
                    f"{name} is not a plain file name (no '/', spaces, leading '.' or '-')"
                )


def _check_preferences(options: Options, locked: set[NormalizedName], lock_path: Path) -> None:
    """``--prefer-sdist``/``--prefer-wheel`` must name locked packages (a typo would be ignored)."""
    for flag, names in (
        ("--prefer-sdist", options.prefer_sdist),
        ("--prefer-wheel", options.prefer_wheel),
    ):
        for name in sorted(set(names) - locked - {ALL_PACKAGES}):
            raise InputError(f"{lock_path}: {flag} {name}: no such package in the lock")


def _notes(trusted: tuple[str, ...], allowed: list[str]) -> tuple[str, ...]:
    """Warning comments for the generated data: what only an opt-in flag let through."""
    notes: list[str] = []
    if trusted:
        notes.append(
            "WARNING: sha256 hashes taken from the package index, not from the lock "
            "(--trust-index-hashes):"
        )
        notes.extend(f"  {line}" for line in trusted)
    if allowed:
        notes.append("WARNING: files fetched against the default policy:")
        notes.extend(f"  {line}" for line in allowed)
    return tuple(notes)


def plan(request: GenerateRequest) -> GeneratePlan:
    """Compute every generated file for ``request`` without writing anything."""
    root = request.project_dir.resolve()
    for name in ("pyproject.toml", OVERRIDES_FILE, ".python-version"):
        check_inside(request.project_dir / name, root)
    project = read_project(request.project_dir)
    _check_project_name(project)
    locks = find_locks(request.project_dir, request.lock_file, request.flag("--lock"))
    lock_path = locks[0]
    check_inside(lock_path, root)
    lock = read_lock(lock_path, project)
    if not lock.root_names:
        if project.name is None:
            # uv locks only the dependencies of such a project, never the project itself.
            raise InputError(
                f"{lock_path}: no project package in the lock: {project.directory}/pyproject.toml "
                "has no [project] table (metadata only in setup.py?); add [project] with name, "
                "version and dependencies, then run `uv lock`"
            )
        raise InputError(f"{lock_path}: no project package in the lock; run `uv lock`")
    if lock.drift and not request.frozen:
        raise LockDriftError(lock)
    python = choose_python(request, lock, project)
    check_options(lock, request.options)
    targets, unsupported = candidate_targets(lock, parse_systems(request.systems), python)
    client = IndexClient(request.cache_dir, offline=request.offline, progress=request.progress)
    lock, trusted_packages = fill_missing_files(
        lock, _needed(lock, targets, request.options), client, request.trust_index_hashes
    )
    chosen = select_systems(lock, targets, request.options, strict=bool(request.systems))
    left_out = tuple(sorted((*unsupported, *chosen.left_out), key=lambda o: o.system))
    resolution = resolve_urls(lock, list(chosen.selections), client, request.trust_index_hashes)
    selections = list(resolution.selections)
    allowed = sorted(
        {
            note
            for selection in selections
            for note in check_selection(lock, selection, request.policy)
        }
    )
    allowed += _git_notes(lock, selections, request.policy)
    trusted = (*trusted_packages, *resolution.trusted)
    source_root = find_source_root(request.project_dir, request.root)
    members = _members(source_root, lock, selections)
    _check_local_files(source_root, lock, selections)
    _check_names(lock, selections, members)
    root_scripts = sorted(
        {
            script
            for name in lock.root_names
            if name in members
            for script, _ in members[name].project.scripts
        }
    )
    overrides = read_overrides(
        request.project_dir, load_toml(request.project_dir / "pyproject.toml")
    )
    overrides.check_names({p.name for p in lock.packages}, lock_path.name)
    _check_preferences(request.options, {p.name for p in lock.packages}, lock_path)
    inputs = [lock_path, request.project_dir / "pyproject.toml"]
    if (request.project_dir / OVERRIDES_FILE).is_file():
        inputs.append(request.project_dir / OVERRIDES_FILE)
    digests = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in inputs}
    resolver = Resolver(
        read_build_lock(request.project_dir / OUTPUT_DIR / BUILD_LOCK_FILE),
        online=request.online and not request.offline,
    )
    member_dirs = {name: member.project.directory for name, member in members.items()}
    source_builds = plan_source_builds(lock, selections, overrides, resolver, member_dirs)
    versions = local_versions(
        {name: (member.path, member.project.directory) for name, member in members.items()},
        resolver,
        str(lock_path),
    )
    build_lock = None if resolver.used.is_empty() else resolver.used.render()
    # Not the directory's name: output must not depend on where the checkout lives.
    label = project.name or lock.root_names[0]
    files = render_files(
        RenderInput(
            project=label,
            lock_file=lock_path.name,
            python_attr=selections[0].target.python_attr,
            selections=tuple(selections),
            members=members,
            input_digests=digests,
            notes=_notes(trusted, allowed),
            settings=request.settings(),
            root_scripts=tuple(root_scripts),
            overrides=overrides,
            source_builds=source_builds,
            build_lock=build_lock,
            versions=versions,
            left_out=left_out,
        )
    )
    counts = {
        s.target.system.nix_system: sum(
            1
            for p in s.packages
            if p.wheel is not None
            or p.name in members
            or (s.target.system.nix_system, p.name) in source_builds.builds
        )
        for s in selections
    }
    return GeneratePlan(
        files=files,
        python=python,
        package_counts=counts,
        lock_path=lock_path,
        other_locks=tuple(p.name for p in locks[1:]),
        resolved_files=resolution.resolved,
        index_requests=client.requests,
        index_cached=client.from_cache,
        trusted=trusted,
        drift=lock.drift,
        left_out=left_out,
    )


def _git_notes(lock: Lock, selections: list[Selection], policy: FilePolicy) -> list[str]:
    """Check every git source against the URL policy before git runs; notes for opt-ins."""
    notes = set()
    for selection in selections:
        for selected in selection.packages:
            if selected.package.source.kind is SourceKind.GIT:
                where = f"{lock.path}: package {selected.name}"
                git = parse_git_location(selected.package.source.location, where)
                note = check_git_policy(git, selected.name, where, policy)
                if note:
                    notes.add(note)
    return sorted(notes)


def _needed(lock: Lock, targets: Iterable[Target], options: Options) -> list[LockedPackage]:
    """Every package some target installs (before files are chosen).

    Only packages listed without files matter to the caller, so when the lock
    has none the walk (as costly as a selection, per target) is skipped.
    """
    if not any(
        p.source.kind is SourceKind.REGISTRY and not p.wheels and p.sdist is None
        for p in lock.packages
    ):
        return []
    return [p for target in targets for p in reachable(lock, target, options)]
