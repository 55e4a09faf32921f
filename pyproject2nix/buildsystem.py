"""What a source tree needs to be built: its PEP 518/517 ``[build-system]``.

Read at generate time from an sdist (downloaded once, hash-checked), a
fetched git tree or a local directory, so the build requirements can be
resolved to pinned wheels before Nix builds anything. A source without
``pyproject.toml`` or without ``build-backend`` gets PEP 517's fallback:
setuptools' legacy backend with setuptools and wheel.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from . import fsread
from .errors import InputError
from .tomlfile import load_toml, parse_toml

LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
LEGACY_REQUIRES = ("setuptools>=40.8.0", "wheel")


@dataclass(frozen=True)
class BuildSystem:
    """A source's build backend and the requirements to install before running it."""

    requires: tuple[str, ...]
    backend: str
    backend_path: tuple[str, ...] = ()


LEGACY = BuildSystem(LEGACY_REQUIRES, LEGACY_BACKEND)


def build_system_from_pyproject(text: str | None, where: str) -> BuildSystem:
    """The ``[build-system]`` of a pyproject.toml's text (None: no pyproject.toml)."""
    if text is None:
        return LEGACY
    data = parse_toml(text, f"{where}: pyproject.toml", "fix the source's pyproject.toml")
    return build_system_from_table(data, where)


def local_build_system(directory: Path) -> BuildSystem:
    """The build system of a local package (the project, a member, a path dependency).

    Its pyproject.toml is parsed once per run (:func:`load_toml`), shared with the
    project reader, the overrides and the drift check.
    """
    pyproject = directory / "pyproject.toml"
    if not fsread.is_file(pyproject):
        return LEGACY
    return build_system_from_table(load_toml(pyproject), str(pyproject))


def build_system_from_table(data: dict[str, Any], where: str) -> BuildSystem:
    """The ``[build-system]`` of parsed pyproject.toml data."""
    table = data.get("build-system")
    if table is None:
        return LEGACY
    if not isinstance(table, dict):
        raise InputError(f"{where}: build-system: expected a table")
    requires = table.get("requires", list(LEGACY_REQUIRES))
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise InputError(f"{where}: build-system.requires: expected an array of strings")
    for requirement in requires:
        try:
            Requirement(requirement)
        except InvalidRequirement as exc:
            reason = str(exc).splitlines()[0]
            raise InputError(
                f"{where}: build-system.requires: invalid requirement {requirement!r}: {reason}"
            ) from exc
    backend = table.get("build-backend")
    if backend is None:
        return BuildSystem(tuple(requires), LEGACY_BACKEND)
    if not isinstance(backend, str):
        raise InputError(f"{where}: build-system.build-backend: expected a string")
    backend_path = table.get("backend-path", [])
    if not isinstance(backend_path, list) or not all(isinstance(p, str) for p in backend_path):
        raise InputError(f"{where}: build-system.backend-path: expected an array of strings")
    return BuildSystem(tuple(requires), backend, tuple(backend_path))


def build_system_of_directory(directory: Path, where: str) -> BuildSystem:
    """The build system of a source tree on disk (a project, a member, a git checkout)."""
    pyproject = directory / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8") if pyproject.is_file() else None
    return build_system_from_pyproject(text, where)


def build_system_of_sdist(path: Path, where: str, subdirectory: str | None = None) -> BuildSystem:
    """The build system declared by an sdist file (.tar.gz, .tar.bz2, .zip, ...).

    ``subdirectory``: the project lives there, below the archive's top directory.
    """
    name = f"{subdirectory}/pyproject.toml" if subdirectory else "pyproject.toml"
    return build_system_from_pyproject(_top_level_file(path, name, where), where)


def _top_level_file(path: Path, name: str, where: str) -> str | None:
    """Text of ``<top>/<name>`` in an archive whose entries share one top directory."""
    # Archive modules are imported only when an sdist is actually read.
    import io
    import tarfile
    import zipfile

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for entry in archive.namelist():
                    if _is_top_level(entry, name):
                        return archive.read(entry).decode("utf-8")
            return None
        with tarfile.open(path) as tar:
            for member in tar:
                if member.isfile() and _is_top_level(member.name, name):
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    return io.TextIOWrapper(extracted, encoding="utf-8").read()
    except (OSError, tarfile.TarError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: cannot read the sdist {path.name}: {exc}") from exc
    return None


def _is_top_level(entry: str, name: str) -> bool:
    parts = PurePosixPath(entry.lstrip("./")).parts
    return len(parts) >= 2 and parts[1:] == PurePosixPath(name).parts


def download(url: str, sha256: str, destination: Path, where: str) -> Path:
    """Download ``url`` to ``destination`` and check its sha256 (an InputError if it differs)."""
    import urllib.request

    digest = hashlib.sha256()
    partial = destination.with_name(destination.name + ".part")
    fsread.opaque(f"downloaded {url}")
    try:
        with urllib.request.urlopen(url, timeout=120) as response, partial.open("wb") as out:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except OSError as exc:
        raise InputError(f"{where}: cannot download {url}: {exc}") from exc
    if digest.hexdigest() != sha256:
        partial.unlink()
        raise InputError(
            f"{where}: {url} has sha256 {digest.hexdigest()}, the lock says {sha256}; "
            "the file changed on the server: re-lock"
        )
    partial.replace(destination)
    return destination


def local_file(root: Path, relative: str, sha256: str, where: str) -> Path:
    """A file of a path source, matching the lock's sha256.

    ``generate`` has checked that it lies inside the source root (the git
    repository or ``--root``), so ``..`` may lead out of the project directory.
    """
    parts = PurePosixPath(relative)
    if parts.is_absolute():
        raise InputError(
            f"{where}: {relative} is an absolute path, which only this machine has: "
            "name it relative to the project and re-lock"
        )
    path = root / parts
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise InputError(f"{where}: cannot read {relative}: {exc.strerror}") from exc
    if digest != sha256:
        raise InputError(
            f"{where}: {relative} has sha256 {digest}, the lock says {sha256}; re-lock"
        )
    return path
