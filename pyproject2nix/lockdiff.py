"""``p2n diff``: what a lock update changes in what each system installs.

Both locks go through the same selection ``p2n generate`` uses (markers,
forks, groups, wheel tags for each target), so the diff is of the installed
closure per system, not of the lock text. For each package it reports the
version, where it comes from and which file would be installed, and flags what
a reviewer should look at: major-version jumps, downgrades, wheels replaced by
sdist builds, native code gained, a changed index or source, and a file whose
hash changed at the same version. Sizes come from the lock where it records
them (uv.lock, pylock.toml); poetry.lock does not, and those deltas stay blank.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from packaging.utils import NormalizedName
from packaging.version import Version

from .errors import InputError, SelectionError
from .model import Artifact, Lock, LockedPackage, SourceKind, Wheel
from .select import Options, choose_sdist, choose_wheel, reachable, supports
from .systems import DEFAULT_SYSTEMS
from .targets import Target, default_python, parse_systems


class FileKind(Enum):
    """How a package gets installed on a target."""

    WHEEL = "wheel"
    SDIST = "sdist"
    SOURCE = "source"
    """Built from a git checkout or a local directory."""
    NONE = "none"
    """No file of the lock fits the target: ``p2n generate`` would refuse it."""
    UNKNOWN = "?"
    """The lock names no files, only hashes (requirements.txt, Pipfile.lock)."""


@dataclass(frozen=True)
class Installed:
    """One package as a target installs it from one lock."""

    version: Version | None
    source: SourceKind
    location: str
    file: FileKind
    filename: str | None = None
    sha256: str | None = None
    size: int | None = None
    native: bool = False
    """A platform-specific wheel (compiled code), not ``*-none-any``."""

    @property
    def version_text(self) -> str:
        """The version, or ``-`` for an unversioned local package."""
        return str(self.version) if self.version is not None else "-"


@dataclass(frozen=True)
class Change:
    """A package whose installation differs between the two locks."""

    name: NormalizedName
    old: Installed | None
    new: Installed | None

    @property
    def kind(self) -> str:
        """added, removed, upgraded, downgraded, or changed (same version)."""
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        if self.old.version is not None and self.new.version is not None:
            if self.new.version > self.old.version:
                return "upgraded"
            if self.new.version < self.old.version:
                return "downgraded"
        return "changed"

    @property
    def size_delta(self) -> int | None:
        """Bytes downloaded more (negative: fewer); None when a side's size is unknown."""
        old_size = 0 if self.old is None else self.old.size
        new_size = 0 if self.new is None else self.new.size
        if old_size is None or new_size is None:
            return None
        return new_size - old_size

    @property
    def flags(self) -> tuple[str, ...]:
        """What a reviewer should look at, most important first."""
        flags: list[str] = []
        old, new = self.old, self.new
        if old is not None and new is not None:
            if old.version is not None and new.version is not None:
                if new.version < old.version:
                    flags.append("downgrade")
                elif _major(new.version) != _major(old.version):
                    flags.append("major")
            if old.source is not new.source:
                flags.append(f"source {old.source.value}->{new.source.value}")
            elif old.location != new.location:
                flags.append("index changed" if new.source is SourceKind.REGISTRY else "moved")
            if old.file is FileKind.WHEEL and new.file is FileKind.SDIST:
                flags.append("wheel->sdist")
            elif old.file is not new.file and new.file not in (FileKind.UNKNOWN, FileKind.NONE):
                flags.append(f"{old.file.value}->{new.file.value}")
            if (
                old.version == new.version
                and old.filename == new.filename
                and old.sha256 != new.sha256
            ):
                flags.append("hash changed")
        if new is not None and new.file is FileKind.NONE:
            flags.append("no file for this system")
        if new is not None and new.native and (old is None or not old.native):
            flags.append("native code")
        if new is not None and old is None and new.file is FileKind.SDIST:
            flags.append("sdist build")
        return tuple(flags)


def _major(version: Version) -> tuple[int, ...]:
    """The part of a version whose change breaks users: X in X.y, or 0.Y in 0.y (semver)."""
    release = version.release
    if release[0] == 0 and len(release) > 1:
        return (version.epoch, 0, release[1])
    return (version.epoch, release[0])


@dataclass(frozen=True)
class SystemDiff:
    """The changes on one target."""

    target: Target
    changes: tuple[Change, ...]
    unchanged: int
    old_size: int
    new_size: int
    unknown_sizes: int
    """Installed files whose size neither lock records (left out of the totals)."""

    @property
    def counts(self) -> dict[str, int]:
        """How many changes of each kind."""
        kinds = ("added", "removed", "upgraded", "downgraded", "changed")
        return {k: sum(1 for c in self.changes if c.kind == k) for k in kinds}


@dataclass(frozen=True)
class LockDiff:
    """``p2n diff``'s result: per-system changes between two locks."""

    old_label: str
    new_label: str
    python: tuple[int, int]
    systems: tuple[SystemDiff, ...]


def _installed(lock: Lock, package: LockedPackage, target: Target, options: Options) -> Installed:
    """How ``target`` would install ``package``, as ``p2n generate`` chooses it."""
    artifact: Artifact | None = None
    kind = FileKind.UNKNOWN
    try:
        artifact = choose_sdist(lock, package, target, options)
        if artifact is not None:
            kind = FileKind.SDIST
        else:
            artifact = choose_wheel(lock, package, target)
            kind = FileKind.WHEEL if artifact is not None else FileKind.SOURCE
    except SelectionError:
        has_files = bool(package.wheels) or package.sdist is not None
        kind = FileKind.NONE if has_files else FileKind.UNKNOWN
    return Installed(
        version=package.version,
        source=package.source.kind,
        location=package.source.location,
        file=kind,
        filename=artifact.filename if artifact is not None else None,
        sha256=artifact.sha256 or None if artifact is not None else None,
        size=artifact.size if artifact is not None else None,
        native=isinstance(artifact, Wheel) and _native(artifact),
    )


def _native(wheel: Wheel) -> bool:
    return any(tag.platform != "any" for tag in wheel.tags)


def _closure(lock: Lock, target: Target, options: Options) -> dict[NormalizedName, Installed]:
    if not supports(lock, target):
        return {}
    roots = set(lock.root_names)
    return {
        package.name: _installed(lock, package, target, options)
        for package in reachable(lock, target, options)
        if package.name not in roots
    }


def _system_diff(old: Lock, new: Lock, target: Target, options: Options) -> SystemDiff:
    before = _closure(old, target, options)
    after = _closure(new, target, options)
    changes = tuple(
        Change(name, before.get(name), after.get(name))
        for name in sorted(before.keys() | after.keys())
        if before.get(name) != after.get(name)
    )
    sizes_before = [i.size for i in before.values()]
    sizes_after = [i.size for i in after.values()]
    return SystemDiff(
        target=target,
        changes=changes,
        unchanged=len(before.keys() & after.keys()) - sum(1 for c in changes if c.old and c.new),
        old_size=sum(s for s in sizes_before if s is not None),
        new_size=sum(s for s in sizes_after if s is not None),
        unknown_sizes=sum(1 for s in (*sizes_before, *sizes_after) if s is None),
    )


def diff_locks(
    old: Lock,
    new: Lock,
    *,
    old_label: str,
    new_label: str,
    systems: Sequence[str] = (),
    python: tuple[int, int] | None = None,
    options: Options | None = None,
) -> LockDiff:
    """Compare what ``old`` and ``new`` install on each system.

    Systems: those asked for, else every default system either lock supports.
    Python: the one asked for, else the oldest nixpkgs CPython the new lock allows.
    """
    chosen_python = python or default_python(new.requires_python, str(new.path))
    chosen = options or Options()
    targets = [
        Target(info, chosen_python) for info in parse_systems(tuple(systems) or DEFAULT_SYSTEMS)
    ]
    targets = [t for t in targets if systems or supports(old, t) or supports(new, t)]
    if not targets:
        raise InputError(f"{new.path}: neither lock supports any of {', '.join(DEFAULT_SYSTEMS)}")
    return LockDiff(
        old_label=old_label,
        new_label=new_label,
        python=chosen_python,
        systems=tuple(_system_diff(old, new, t, chosen) for t in targets),
    )


def human_size(size: int, signed: bool = False) -> str:
    """1536 -> ``1.5 KiB`` (``+1.5 KiB`` when ``signed``)."""
    sign = ("+" if size > 0 else "-" if size < 0 else "") if signed else ""
    value = float(abs(size))
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            text = f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
            return sign + text
        value /= 1024
    raise AssertionError("unreachable")


_COLUMNS = ("", "package", "old", "new", "source", "file", "size", "notes")


def _row(change: Change) -> tuple[str, ...]:
    either = change.new or change.old
    assert either is not None
    source = either.source.value
    if change.old and change.new and change.old.source is not change.new.source:
        source = f"{change.old.source.value}->{change.new.source.value}"
    file = either.file.value
    if change.old and change.new and change.old.file is not change.new.file:
        file = f"{change.old.file.value}->{change.new.file.value}"
    delta = change.size_delta
    return (
        change.kind,
        change.name,
        change.old.version_text if change.old else "",
        change.new.version_text if change.new else "",
        source,
        file,
        human_size(delta, signed=True) if delta else "",
        ", ".join(change.flags),
    )


def _summary(system: SystemDiff) -> str:
    counts = ", ".join(f"{n} {kind}" for kind, n in system.counts.items() if n)
    text = f"{counts or 'no changes'}, {system.unchanged} unchanged"
    if system.old_size or system.new_size:
        delta = system.new_size - system.old_size
        text += (
            f"; download {human_size(delta, signed=True) if delta else '±0'} "
            f"({human_size(system.old_size)} -> {human_size(system.new_size)})"
        )
        if system.unknown_sizes:
            plural = "s" if system.unknown_sizes > 1 else ""
            text += f", {system.unknown_sizes} file{plural} of unknown size"
    return text


def _grouped(diff: LockDiff) -> list[tuple[list[str], SystemDiff, list[tuple[str, ...]]]]:
    """Systems with identical tables share one (a pure-Python closure looks alike everywhere)."""
    groups: list[tuple[list[str], SystemDiff, list[tuple[str, ...]]]] = []
    for system in diff.systems:
        rows = [_row(c) for c in system.changes]
        for names, first, first_rows in groups:
            if first_rows == rows and _summary(first) == _summary(system):
                names.append(system.target.system.nix_system)
                break
        else:
            groups.append(([system.target.system.nix_system], system, rows))
    return groups


def _aligned(rows: Iterable[tuple[str, ...]]) -> list[str]:
    table = [_COLUMNS, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(_COLUMNS))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]


def render_text(diff: LockDiff) -> str:
    """A table per system (systems with identical changes share one), for a terminal."""
    python = f"CPython {diff.python[0]}.{diff.python[1]}"
    lines = [f"p2n diff: {diff.old_label} -> {diff.new_label} ({python})"]
    for names, system, rows in _grouped(diff):
        lines += ["", f"{', '.join(names)}: {_summary(system)}"]
        if rows:
            lines += _aligned(rows)
    return "\n".join(lines) + "\n"


def render_markdown(diff: LockDiff) -> str:
    """The same tables as Markdown, for a pull-request comment."""
    python = f"CPython {diff.python[0]}.{diff.python[1]}"
    lines = [f"### p2n diff: `{diff.old_label}` → `{diff.new_label}` ({python})"]
    for names, system, rows in _grouped(diff):
        lines += ["", f"**{', '.join(names)}**: {_summary(system)}", ""]
        if not rows:
            continue
        lines.append("| " + " | ".join((*_COLUMNS[1:], "change")) + " |")
        lines.append("|" + "---|" * len(_COLUMNS))
        for row in rows:
            cells = (f"`{row[1]}`", *row[2:], row[0])
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _installed_json(installed: Installed | None) -> dict[str, object] | None:
    if installed is None:
        return None
    return {
        "version": str(installed.version) if installed.version is not None else None,
        "source": installed.source.value,
        "location": installed.location,
        "file": installed.file.value,
        "filename": installed.filename,
        "sha256": installed.sha256,
        "size": installed.size,
        "native": installed.native,
    }


def render_json(diff: LockDiff) -> str:
    """Machine-readable: every system, every change with both sides and its flags."""
    document = {
        "old": diff.old_label,
        "new": diff.new_label,
        "python": f"{diff.python[0]}.{diff.python[1]}",
        "systems": {
            system.target.system.nix_system: {
                "counts": system.counts,
                "unchanged": system.unchanged,
                "download_size": {
                    "old": system.old_size,
                    "new": system.new_size,
                    "delta": system.new_size - system.old_size,
                    "unknown_files": system.unknown_sizes,
                },
                "changes": [
                    {
                        "name": change.name,
                        "change": change.kind,
                        "flags": list(change.flags),
                        "size_delta": change.size_delta,
                        "old": _installed_json(change.old),
                        "new": _installed_json(change.new),
                    }
                    for change in system.changes
                ],
            }
            for system in diff.systems
        },
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
