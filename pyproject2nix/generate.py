"""``p2n generate``: lock file in, rendered files out.

The one place that wires the pipeline together: read the project and its
lock, choose the interpreter, select packages for every system, render, and
(in the CLI) write. Nothing here formats Nix or parses TOML itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .buildlock import BUILD_LOCK_FILE, Resolver, read_build_lock
from .errors import InputError
from .model import Lock, SourceKind
from .overrides import OVERRIDES_FILE, read_overrides
from .project import LocalProject, read_project
from .render import OUTPUT_DIR, LocalMember, RenderInput, render_files
from .select import Options, Selection, check_options, check_selection, select, supports
from .sourcebuild import plan_source_builds
from .targets import DEFAULT_SYSTEMS, Target, default_python, parse_python, parse_systems
from .tomlfile import load_toml
from .uvlock import read_uv_lock


@dataclass(frozen=True)
class GenerateRequest:
    """What the user asked ``p2n generate`` for."""

    project_dir: Path
    python: str | None = None
    systems: tuple[str, ...] = ()
    """Nix systems asked for; () means every default system the lock supports."""
    options: Options = field(default_factory=Options)
    online: bool = True
    """May fetch sources and resolve build requirements (``p2n check`` may not)."""

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
            "prefer_sdist": sorted(self.options.prefer_sdist),
            "prefer_wheel": sorted(self.options.prefer_wheel),
        }

    @classmethod
    def from_settings(cls, project_dir: Path, settings: dict[str, object]) -> GenerateRequest:
        """The request that :meth:`settings` recorded (unknown keys are ignored)."""

        def strings(key: str) -> tuple[str, ...]:
            value = settings.get(key, [])
            return tuple(str(v) for v in value) if isinstance(value, list) else ()

        python = settings.get("python")
        return cls(
            project_dir=project_dir,
            python=str(python) if python is not None else None,
            systems=strings("systems"),
            options=Options(
                extras=frozenset(strings("extras")),
                all_extras=bool(settings.get("all_extras", False)),
                groups=frozenset(strings("groups")),
                no_default_groups=bool(settings.get("no_default_groups", False)),
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


def find_lock(project_dir: Path) -> Path:
    """The project's uv.lock, or an error saying how to make one."""
    lock = project_dir / "uv.lock"
    if lock.is_file():
        return lock
    if (project_dir / "poetry.lock").is_file():
        raise InputError(
            f"{project_dir}: has poetry.lock but no uv.lock; p2n reads uv.lock so far "
            "(run `uv lock` to create one)"
        )
    raise InputError(f"{project_dir}: no uv.lock found; run `uv lock` first")


def choose_python(request: GenerateRequest, lock: Lock, project: LocalProject) -> tuple[int, int]:
    """--python, else .python-version, else the oldest nixpkgs CPython allowed."""
    requires = lock.requires_python if str(lock.requires_python) else project.requires_python
    pinned_file = request.project_dir / ".python-version"
    if request.python is not None:
        chosen = parse_python(request.python)
    elif pinned_file.is_file():
        text = pinned_file.read_text().strip().splitlines()[0].removeprefix("cpython-")
        chosen = parse_python(".".join(text.split(".")[:2]))
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


def _targets(request: GenerateRequest, lock: Lock, python: tuple[int, int]) -> list[Target]:
    """The targets to generate for: those asked for, or every default one the lock supports."""
    asked = parse_systems(request.systems or DEFAULT_SYSTEMS)
    targets = [Target(system, python) for system in asked]
    supported = [t for t in targets if supports(lock, t)]
    unsupported = [t.system.nix_system for t in targets if t not in supported]
    if request.systems and unsupported:
        raise InputError(
            f"{lock.path}: the lock is not resolved for {', '.join(unsupported)} "
            "(see supported-markers); add it to tool.uv.environments and re-lock"
        )
    if not supported:
        raise InputError(
            f"{lock.path}: the lock supports none of {', '.join(DEFAULT_SYSTEMS)}; "
            "add one to tool.uv.environments and re-lock"
        )
    return supported


def _members(
    request: GenerateRequest, lock: Lock, selections: list[Selection]
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
            location = PurePosixPath(package.source.location)
            directory = (lock.path.parent / location).resolve()
            root = request.project_dir.resolve()
            if directory != root and root not in directory.parents:
                raise InputError(
                    f"{lock.path}: package {package.name} lives at {location}, outside the "
                    f"project directory {root}; a flake can only read files below its root"
                )
            relative = directory.relative_to(root).as_posix() or "."
            members[package.name] = LocalMember(path=relative, project=read_project(directory))
    return members


def plan(request: GenerateRequest) -> GeneratePlan:
    """Compute every generated file for ``request`` without writing anything."""
    project = read_project(request.project_dir)
    lock_path = find_lock(request.project_dir)
    lock = read_uv_lock(lock_path, project.name)
    if not lock.root_names:
        raise InputError(f"{lock_path}: no project package in the lock; run `uv lock`")
    python = choose_python(request, lock, project)
    check_options(lock, request.options)
    selections = [
        select(lock, target, request.options) for target in _targets(request, lock, python)
    ]
    for selection in selections:
        check_selection(lock, selection)
    members = _members(request, lock, selections)
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
    inputs = [lock_path, request.project_dir / "pyproject.toml"]
    if (request.project_dir / OVERRIDES_FILE).is_file():
        inputs.append(request.project_dir / OVERRIDES_FILE)
    digests = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in inputs}
    resolver = Resolver(
        read_build_lock(request.project_dir / OUTPUT_DIR / BUILD_LOCK_FILE),
        online=request.online,
    )
    source_builds = plan_source_builds(lock, selections, overrides, resolver)
    build_lock = (
        resolver.used.render() if resolver.used.sources or resolver.used.resolutions else None
    )
    label = project.name or request.project_dir.resolve().name
    files = render_files(
        RenderInput(
            project=label,
            lock_file=lock_path.name,
            python_attr=selections[0].target.python_attr,
            selections=tuple(selections),
            members=members,
            input_digests=digests,
            settings=request.settings(),
            root_scripts=tuple(root_scripts),
            overrides=overrides,
            source_builds=source_builds,
            build_lock=build_lock,
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
    return GeneratePlan(files=files, python=python, package_counts=counts, lock_path=lock_path)
