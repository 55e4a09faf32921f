"""Checks of what generate reads before anything reaches Nix: files, names, local sources.

Each names the file and the fix: a symlink out of the project, a name Nix or a
file system refuses, a local wheel outside the source root, a preference for
a package the lock lacks, a git source against the URL policy. Called by the
stages of :mod:`pyproject2nix.generate`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from packaging.utils import NormalizedName, canonicalize_name

from . import fsread
from .errors import InputError
from .gitsource import check_git_policy
from .model import Lock, SourceKind
from .project import LocalProject, read_project
from .render import LocalMember
from .select import ALL_PACKAGES, FilePolicy, Options, Selection
from .sourceroot import SourceRoot


def check_inside(path: Path, root: Path) -> None:
    """An input file that is a symlink out of the project is refused, not read.

    The flake cannot read it either; and p2n would quote its content in errors
    (a TOML syntax error shows the offending line).
    """
    if not fsread.is_symlink(path):
        return
    resolved = fsread.resolve(path)
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
        text = fsread.read_bytes(path).decode("utf-8-sig")
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


def read_members(
    source_root: SourceRoot, lock: Lock, selections: Sequence[Selection]
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


def check_local_files(source_root: SourceRoot, lock: Lock, selections: Sequence[Selection]) -> None:
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


def check_project_name(project: LocalProject) -> None:
    """``[project].name`` must be a PEP 508 name (it names derivations and the environment)."""
    if project.name is not None and not _PACKAGE_NAME.fullmatch(canonicalize_name(project.name)):
        raise InputError(
            f"{project.directory / 'pyproject.toml'}: project.name {project.name!r} is not a "
            "valid package name (letters, digits, '.', '-', '_'; PEP 508)"
        )


def check_names(
    lock: Lock, selections: Sequence[Selection], members: Mapping[str, LocalMember]
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


def check_preferences(options: Options, locked: set[NormalizedName], lock_path: Path) -> None:
    """``--prefer-sdist``/``--prefer-wheel`` must name locked packages (a typo would be ignored)."""
    for flag, names in (
        ("--prefer-sdist", options.prefer_sdist),
        ("--prefer-wheel", options.prefer_wheel),
    ):
        for name in sorted(set(names) - locked - {ALL_PACKAGES}):
            raise InputError(f"{lock_path}: {flag} {name}: no such package in the lock")


def git_notes(lock: Lock, selections: Sequence[Selection], policy: FilePolicy) -> list[str]:
    """Check every git source against the URL policy before git runs; notes for opt-ins."""
    notes = set()
    for selection in selections:
        for selected in selection.packages:
            git = selected.package.source.git
            if git is not None:
                where = f"{lock.path}: package {selected.name}"
                note = check_git_policy(git, selected.name, where, policy)
                if note:
                    notes.add(note)
    return sorted(notes)
