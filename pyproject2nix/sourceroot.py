"""The source root: the tree a generated flake reads local sources from.

A flake is evaluated from a copy of the tree that holds it: in a git
repository that is the whole repository (``nix build`` in ``repo/app`` means
``git+file:///repo?dir=app``; ``path:/repo?dir=app`` copies ``/repo``), so a
path dependency, workspace member or local wheel anywhere inside it is
reachable from ``app/flake.nix`` as ``../lib``. Outside that tree Nix cannot
read it. The root is ``--root DIR`` when given, else the enclosing git
repository, else the project directory itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from . import fsread
from .errors import InputError


@dataclass(frozen=True)
class SourceRoot:
    """Where the project lives and the directory its local sources must stay inside."""

    project_dir: Path
    """Resolved."""
    root: Path
    """Resolved; the project directory or one of its parents."""
    kind: str
    """"option" (--root), "git" (the enclosing repository) or "project"."""

    def inside(self, path: Path, where: str) -> Path:
        """``path`` resolved (symlinks followed: a link out counts as outside), if inside."""
        resolved = fsread.resolve(path)
        if resolved != self.root and self.root not in resolved.parents:
            raise InputError(f"{where} is outside {self._boundary()}")
        return resolved

    def relative(self, location: str, where: str) -> str:
        """``location`` (relative to the project, or absolute) as a POSIX path from the project."""
        resolved = self.inside(self.project_dir / location, where)
        return PurePosixPath(Path(os.path.relpath(resolved, self.project_dir))).as_posix()

    def _boundary(self) -> str:
        if self.kind == "option":
            return (
                f"--root {self.root}; a flake reads only files of the tree it is built from: "
                "move it inside and re-lock, or name a directory that holds both with --root"
            )
        if self.kind == "git":
            return (
                f"the git repository {self.root} that holds the project; Nix reads a flake's "
                "files from that repository only: move it into the repository and re-lock"
            )
        return (
            f"the project directory {self.root} (which is in no git repository); a flake can "
            "only read files below its root: move it into the project and re-lock, or name "
            "a directory that holds both with --root DIR"
        )


def find_source_root(project_dir: Path, root: Path | None = None) -> SourceRoot:
    """``--root`` (which must hold the project), else the git repository, else the project."""
    project = fsread.resolve(project_dir)
    if root is not None:
        chosen = fsread.resolve(root)
        if not fsread.is_dir(chosen):
            raise InputError(f"--root {root}: no such directory")
        if chosen != project and chosen not in project.parents:
            raise InputError(
                f"--root {root}: the project directory {project} is not inside it; "
                "name a directory that holds the project"
            )
        return SourceRoot(project, chosen, "option")
    for directory in (project, *project.parents):
        if fsread.exists(directory / ".git"):
            return SourceRoot(project, directory, "git")
    return SourceRoot(project, project, "project")
