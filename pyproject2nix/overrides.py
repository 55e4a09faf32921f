"""The overrides file: what a lock file cannot say about native code and builds.

Read from ``[tool.p2n]`` in pyproject.toml, or from ``p2n.toml`` beside it
(same keys at its top level; one of the two, not both)::

    [tool.p2n]
    libraries = ["stdenv.cc.cc.lib", "zlib"]   # default runtime libraries of native code

    [tool.p2n.packages.psycopg2-binary]
    libraries = ["postgresql.lib"]      # nixpkgs packages whose lib/ joins the RUNPATH
    build-inputs = ["openssl"]          # sdist builds: libraries and headers (stdenv)
    native-build-inputs = ["pkg-config"]  # sdist builds: tools on PATH (stdenv)
    stdenv = true                       # sdist builds: nixpkgs' stdenv (a C compiler)
    env = { NAME = "value" }            # environment variables of the build
    patches = ["patches/fix.patch"]     # applied to the source before building (-p1)
    build-requires = ["cython<3"]       # build requirements the sdist does not declare

Every value is checked when ``p2n generate`` runs; an error names the file,
the key path and the fix, on one line. Nix attribute paths are checked
against nixpkgs only when Nix evaluates them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from . import fsread
from .errors import InputError
from .tomlfile import TomlTable, load_toml

OVERRIDES_FILE = "p2n.toml"

DEFAULT_LIBRARIES = ("stdenv.cc.cc.lib", "zlib")
"""Runtime libraries of native wheels unless ``[tool.p2n] libraries`` says otherwise:
libstdc++/libgcc_s/libgomp and libz cover most manylinux wheels' needs beyond glibc."""

_ATTR_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_'-]*(\.[A-Za-z_][A-Za-z0-9_'-]*)*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Attributes the generated derivations set themselves.
_RESERVED_ENV = frozenset(
    {
        "out",
        "name",
        "system",
        "builder",
        "args",
        "outputs",
        "pname",
        "version",
        "src",
        "wheel",
        "wheelName",
        "installer",
        "bytecodeScript",
        "interpreter",
        "sitePackages",
        "patchelf",
        "patchElfScript",
        "libraryDirs",
        "libraryNames",
        "buildWheels",
        "buildBackend",
        "backendPath",
        "patches",
        "PATH",
        "HOME",
        "TMPDIR",
        "SOURCE_DATE_EPOCH",
        "PYTHONPATH",
        "PYTHONHASHSEED",
        "PYTHONDONTWRITEBYTECODE",
        "pythonVersion",
        "buildWheelScript",
        "subdirectory",
        "p2nPatches",
        "patchTool",
        "buildInputs",
        "nativeBuildInputs",
        "stdenvBuild",
        "dontUnpack",
        "dontConfigure",
        "dontInstall",
        "dontFixup",
        "scriptsJSON",
        "extraAttrs",
        # Derivation attributes that change what a build is, not what it sees:
        # a fixed-output derivation gets the network, others leave the sandbox
        # or replace the whole build script.
        "buildCommand",
        "phases",
        "impureEnvVars",
        "allowedReferences",
        "allowedRequisites",
        "disallowedReferences",
        "disallowedRequisites",
        "exportReferencesGraph",
        "passAsFile",
        "preferLocalBuild",
        "allowSubstitutes",
        "requiredSystemFeatures",
    }
)
_RESERVED_ENV_PREFIXES = ("__", "output")
"""``__noChroot``, ``__impure``, ``__structuredAttrs``…; ``outputHash``, ``outputs``…"""
_RESERVED_ENV_SUFFIXES = ("Phase",)
"""stdenv phases (``buildPhase``, ``installPhase``…) replace p2n's build."""
_TOP_KEYS = ("libraries", "packages")
_PACKAGE_KEYS = (
    "libraries",
    "build-inputs",
    "native-build-inputs",
    "stdenv",
    "env",
    "patches",
    "build-requires",
)


@dataclass(frozen=True)
class PackageOverride:
    """What the overrides file says about one package."""

    libraries: tuple[str, ...] = ()
    build_inputs: tuple[str, ...] = ()
    native_build_inputs: tuple[str, ...] = ()
    stdenv: bool = False
    env: tuple[tuple[str, str], ...] = ()
    patches: tuple[str, ...] = ()
    """Paths relative to the project directory, POSIX separators."""
    build_requires: tuple[str, ...] = ()

    @property
    def uses_stdenv(self) -> bool:
        """Whether a build from source needs nixpkgs' stdenv (compiler, inputs)."""
        return self.stdenv or bool(self.build_inputs or self.native_build_inputs)


@dataclass(frozen=True)
class Overrides:
    """The whole overrides file (empty when there is none)."""

    file: str | None = None
    """``pyproject.toml`` or ``p2n.toml`` (relative to the project), None without overrides."""
    libraries: tuple[str, ...] = DEFAULT_LIBRARIES
    packages: Mapping[NormalizedName, PackageOverride] = field(default_factory=dict)

    def package(self, name: NormalizedName) -> PackageOverride:
        """The override of ``name`` (an empty one when the file says nothing about it)."""
        return self.packages.get(name, PackageOverride())

    def libraries_for(self, name: NormalizedName) -> tuple[str, ...]:
        """Runtime libraries of ``name``'s native code: the defaults, then its own and inputs."""
        own = self.package(name)
        return tuple(dict.fromkeys((*self.libraries, *own.libraries, *own.build_inputs)))

    def check_names(self, known: set[NormalizedName], lock_file: str) -> None:
        """Refuse overrides of packages the lock does not have (a typo would be ignored)."""
        for name in sorted(set(self.packages) - known):
            close = _close_matches(name, sorted(known), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            prefix = "tool.p2n." if self.file == "pyproject.toml" else ""
            raise InputError(
                f"{self.file}: {prefix}packages.{name}: no package '{name}' in {lock_file}{hint}"
            )


def read_overrides(project_dir: Path, pyproject: dict[str, Any]) -> Overrides:
    """The overrides of the project in ``project_dir`` (``pyproject`` is its parsed TOML)."""
    tool = pyproject.get("tool")
    in_pyproject = isinstance(tool, dict) and "p2n" in tool
    separate = project_dir / OVERRIDES_FILE
    if fsread.is_file(separate):
        if in_pyproject:
            raise InputError(
                f"{separate}: overrides are also in pyproject.toml [tool.p2n]; "
                "keep them in one of the two"
            )
        return parse_overrides(TomlTable(separate, "", load_toml(separate)), OVERRIDES_FILE)
    if not in_pyproject:
        return Overrides()
    assert isinstance(tool, dict)
    path = project_dir / "pyproject.toml"
    if not isinstance(tool["p2n"], dict):
        raise InputError(f"{path}: tool.p2n: expected a table")
    return parse_overrides(TomlTable(path, "tool.p2n", tool["p2n"]), "pyproject.toml")


def parse_overrides(table: TomlTable, file: str) -> Overrides:
    """Validate the overrides table (``[tool.p2n]`` or a p2n.toml)."""
    _known_keys(table, _TOP_KEYS)
    libraries = _attr_paths(table, "libraries") if "libraries" in table.data else DEFAULT_LIBRARIES
    packages: dict[NormalizedName, PackageOverride] = {}
    spelled: dict[NormalizedName, str] = {}
    packages_table = table.opt_table("packages")
    for raw_name in packages_table.names() if packages_table else []:
        assert packages_table is not None
        name = canonicalize_name(raw_name)
        if name in spelled:
            raise packages_table.error(
                raw_name, f"names the same package as '{spelled[name]}'; merge the two tables"
            )
        spelled[name] = raw_name
        package = packages_table.opt_table(raw_name)
        if package is None:
            raise packages_table.error(raw_name, "expected a table")
        packages[name] = _package(package, packages_table.file.parent)
    return Overrides(file=file, libraries=libraries, packages=packages)


def _package(table: TomlTable, project_dir: Path) -> PackageOverride:
    _known_keys(table, _PACKAGE_KEYS)
    stdenv = table.data.get("stdenv", False)
    if not isinstance(stdenv, bool):
        raise table.error("stdenv", "expected true or false")
    return PackageOverride(
        libraries=_attr_paths(table, "libraries"),
        build_inputs=_attr_paths(table, "build-inputs"),
        native_build_inputs=_attr_paths(table, "native-build-inputs"),
        stdenv=stdenv,
        env=_env(table),
        patches=_patches(table, project_dir),
        build_requires=_requirements(table, "build-requires"),
    )


def _known_keys(table: TomlTable, known: tuple[str, ...]) -> None:
    for key in table.names():
        if key not in known:
            close = _close_matches(key, known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise table.error(key, f"unknown key; {hint}known keys: {', '.join(known)}")


def _attr_paths(table: TomlTable, key: str) -> tuple[str, ...]:
    values = table.strings(key)
    for index, value in enumerate(values):
        if not _ATTR_PATH.fullmatch(value):
            raise table.error(
                f"{key}[{index}]",
                f'{value!r} is not a nixpkgs attribute path (such as "zlib" or "stdenv.cc.cc.lib")',
            )
    return tuple(dict.fromkeys(values))


def _env(table: TomlTable) -> tuple[tuple[str, str], ...]:
    env = table.opt_table("env")
    if env is None:
        return ()
    result = []
    for name in env.names():
        if not _ENV_NAME.fullmatch(name):
            raise env.error(name, "not a valid environment variable name")
        if name in _RESERVED_ENV:
            raise env.error(name, "is set by p2n's builders; choose another variable")
        if name.startswith(_RESERVED_ENV_PREFIXES) or name.endswith(_RESERVED_ENV_SUFFIXES):
            raise env.error(
                name,
                "is a derivation attribute that changes what the build is (network, "
                "sandbox, build script), not an environment variable; choose another name",
            )
        value = env.data[name]
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise env.error(name, "expected a string")
        result.append((name, str(value)))
    return tuple(sorted(result))


def _patches(table: TomlTable, project_dir: Path) -> tuple[str, ...]:
    paths = table.strings("patches")
    result = []
    for index, text in enumerate(paths):
        where = f"patches[{index}]"
        relative = PurePosixPath(text)
        if relative.is_absolute() or ".." in relative.parts or not text:
            raise table.error(where, f"{text!r}: give a path inside the project, relative to it")
        if not fsread.is_file(project_dir / relative):
            raise table.error(where, f"{text!r}: no such file in {project_dir}")
        root = fsread.resolve(project_dir)
        if root not in fsread.resolve(project_dir / relative).parents:
            raise table.error(where, f"{text!r}: a symlink out of the project; give the file")
        result.append(relative.as_posix())
    return tuple(result)


def _requirements(table: TomlTable, key: str) -> tuple[str, ...]:
    values = table.strings(key)
    for index, value in enumerate(values):
        try:
            Requirement(value)
        except InvalidRequirement as exc:
            reason = str(exc).splitlines()[0]
            problem = f"invalid requirement {value!r}: {reason}"
            raise table.error(f"{key}[{index}]", problem) from exc
    return tuple(values)


def _close_matches(word: str, known: Sequence[str], n: int) -> list[str]:
    """difflib's suggestions, imported only when a name is wrong."""
    import difflib

    return difflib.get_close_matches(word, known, n=n)
