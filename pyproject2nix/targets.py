"""Target platforms: a Nix system plus a CPython version.

Markers and wheel tags are computed for the *target*, never the host, so one
``p2n generate`` on Linux writes correct data for macOS too. The figures
describe what nixpkgs builds: glibc for Linux (manylinux tags), the macOS
deployment target nixpkgs uses for Darwin.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms

from .errors import InputError
from .systems import SYSTEM_NAMES


@dataclass(frozen=True)
class SystemInfo:
    """What a Nix system looks like to PEP 508 markers and PEP 425 tags."""

    nix_system: str
    sys_platform: str
    platform_system: str
    platform_machine: str
    # Linux: newest glibc minor version whose manylinux wheels are accepted.
    glibc_minor: int | None = None
    # Darwin: macOS version whose and older wheels are accepted.
    macos: tuple[int, int] | None = None

    def platform_tags(self) -> Iterator[str]:
        """Platform tags in preference order (most specific first).

        Linux: every manylinux tag, then plain ``linux_<arch>`` last, as pip and
        uv rank them (the PyTorch indexes publish ``linux_x86_64`` wheels).
        musllinux never fits: nixpkgs' Linux is glibc.
        """
        if self.glibc_minor is not None:
            yield from _manylinux_tags(self.platform_machine, self.glibc_minor)
            yield f"linux_{self.platform_machine}"
        elif self.macos is not None:
            yield from mac_platforms(self.macos, self.platform_machine)


def _manylinux_tags(arch: str, glibc_minor: int) -> Iterator[str]:
    """PEP 600 tags from newest to oldest glibc, with their PEP 513/571/599 aliases."""
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    for minor in range(glibc_minor, 4, -1):
        yield f"manylinux_2_{minor}_{arch}"
        alias = legacy.get(minor)
        # manylinux2010/manylinux1 exist only for x86 architectures.
        if alias and (minor == 17 or arch in ("x86_64", "i686")):
            yield f"{alias}_{arch}"


# nixpkgs 25.11: glibc 2.40; macOS 14 is the oldest Darwin it supports, so a
# Nix user's Mac accepts wheels built for macOS 14 and older.
SYSTEMS: dict[str, SystemInfo] = {
    info.nix_system: info
    for info in (
        SystemInfo("x86_64-linux", "linux", "Linux", "x86_64", glibc_minor=40),
        SystemInfo("aarch64-linux", "linux", "Linux", "aarch64", glibc_minor=40),
        SystemInfo("x86_64-darwin", "darwin", "Darwin", "x86_64", macos=(14, 0)),
        SystemInfo("aarch64-darwin", "darwin", "Darwin", "arm64", macos=(14, 0)),
    )
}
if tuple(sorted(SYSTEMS)) != SYSTEM_NAMES:  # the CLI offers the names without this module
    raise AssertionError(f"systems.SYSTEM_NAMES {SYSTEM_NAMES} differ from {sorted(SYSTEMS)}")

# CPython minor versions nixpkgs ships as pythonXY, with the patch release
# nixpkgs carries (used for python_full_version markers).
PYTHON_RELEASES: dict[tuple[int, int], int] = {
    (3, 10): 19,
    (3, 11): 14,
    (3, 12): 12,
    (3, 13): 9,
    (3, 14): 0,
}


@dataclass(frozen=True)
class Target:
    """One (system, interpreter) pair that the generated flake builds for."""

    system: SystemInfo
    python: tuple[int, int]

    @property
    def python_attr(self) -> str:
        """The nixpkgs attribute of the interpreter, e.g. ``python311``."""
        return f"python{self.python[0]}{self.python[1]}"

    @cached_property
    def marker_environment(self) -> dict[str, str]:
        """The PEP 508 environment of this target."""
        major, minor = self.python
        patch = PYTHON_RELEASES.get(self.python, 0)
        return {
            "implementation_name": "cpython",
            "implementation_version": f"{major}.{minor}.{patch}",
            "os_name": "posix",
            "platform_machine": self.system.platform_machine,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": self.system.platform_system,
            "platform_version": "",
            "python_full_version": f"{major}.{minor}.{patch}",
            "python_version": f"{major}.{minor}",
            "sys_platform": self.system.sys_platform,
            "extra": "",
        }

    @cached_property
    def tag_priority(self) -> dict[Tag, int]:
        """Every tag this target accepts, mapped to its rank (0 = most preferred)."""
        platforms = list(self.system.platform_tags())
        ranked: dict[Tag, int] = {}
        all_tags = [
            *cpython_tags(self.python, platforms=platforms),
            *compatible_tags(self.python, f"cp{self.python[0]}{self.python[1]}", platforms),
        ]
        for tag in all_tags:
            ranked.setdefault(tag, len(ranked))
        return ranked


def parse_systems(names: tuple[str, ...]) -> tuple[SystemInfo, ...]:
    """Validate ``--system`` values."""
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown:
        raise InputError(
            f"unknown system {', '.join(unknown)}; choose from {', '.join(sorted(SYSTEMS))}"
        )
    return tuple(SYSTEMS[n] for n in sorted(set(names)))


def parse_python(text: str, source: str = "--python") -> tuple[int, int]:
    """``3.12`` → (3, 12), checked against what nixpkgs ships.

    ``source`` names where the text came from in errors (the flag, the
    ``.python-version`` file, the settings recorded in ``p2n/lock.nix``).
    """
    parts = text.strip().split(".")
    try:
        version = (int(parts[0]), int(parts[1]))
    except (IndexError, ValueError) as exc:
        raise InputError(f"{source} {text!r}: expected MAJOR.MINOR such as 3.12") from exc
    if version not in PYTHON_RELEASES:
        known = ", ".join(f"{a}.{b}" for a, b in PYTHON_RELEASES)
        raise InputError(f"{source} {text}: nixpkgs has no such CPython; choose one of {known}")
    return version


def default_python(requires_python: SpecifierSet, source: str) -> tuple[int, int]:
    """The oldest nixpkgs CPython from 3.11 on allowed by ``requires-python``.

    The oldest allowed release is what the lock was resolved against as a
    lower bound, so its wheels exist; 3.10 only when nothing newer is allowed.
    """
    candidates = sorted(PYTHON_RELEASES, key=lambda v: (v < (3, 11), v))
    for version in candidates:
        full = f"{version[0]}.{version[1]}.{PYTHON_RELEASES[version]}"
        if requires_python.contains(full, prereleases=True):
            return version
    raise InputError(
        f"{source}: requires-python {requires_python} allows no CPython that nixpkgs ships; "
        "pass --python 3.X or widen requires-python"
    )
