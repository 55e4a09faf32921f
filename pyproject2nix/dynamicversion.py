"""Versions a local package's build backend computes: from git tags, files, setup.py.

hatch-vcs, setuptools-scm, uv-dynamic-versioning, poetry-dynamic-versioning,
pdm-backend's ``scm`` source and versioningit read the version from git, and
a Nix build sees the source without ``.git`` (and without ``git``). So p2n
asks the project's own backend at generate time — PEP 517
``prepare_metadata_for_build_wheel`` in an environment uv makes with the build
requirements — records the answer in ``p2n/build-systems.toml`` with the git
state it came from, writes it into ``p2n/lock.nix``, and the build hands it to
the plugins through their override variables (nix/build-source.nix).

The backend runs in a clean clone of HEAD, not the working tree: a dirty
tree's version carries the date (setuptools-scm's ``+d20261202``), which would
make generating twice give different files, and setuptools would write its
``egg-info`` into the user's tree. ``p2n check`` compares the git state only
(``git describe`` of HEAD): a new commit or tag makes the files stale.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import fsread
from .buildsystem import BuildSystem
from .errors import InputError
from .tomlfile import load_toml

# Runs in uv's environment, in the source tree: argv = backend, backend path (JSON), report.
_HOOK_RUNNER = r"""
import importlib, importlib.metadata, json, os, re, sys, tempfile, zipfile
backend_name, backend_path, report = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
sys.path[:0] = [os.path.abspath(p) for p in backend_path]
module, _, attribute = backend_name.partition(":")
backend = importlib.import_module(module)
for part in filter(None, attribute.split(".")):
    backend = getattr(backend, part)
hook = getattr(backend, "get_requires_for_build_wheel", None)
requires = list(hook({})) if hook else []
missing = []
for requirement in requires:
    name = re.split(r"[<>=!~;\[ (@]", requirement, maxsplit=1)[0].strip()
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        missing.append(requirement)
if missing:
    with open(report, "w") as handle:
        json.dump({"missing": missing}, handle)
    sys.exit(0)
with tempfile.TemporaryDirectory() as out:
    prepare = getattr(backend, "prepare_metadata_for_build_wheel", None)
    if prepare is not None:
        with open(os.path.join(out, prepare(out, {}), "METADATA"), encoding="utf-8") as handle:
            metadata = handle.read()
    else:
        wheel = os.path.join(out, backend.build_wheel(out, {}))
        with zipfile.ZipFile(wheel) as archive:
            name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            metadata = archive.read(name).decode("utf-8")
version = next(
    line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Version:")
)
with open(report, "w") as handle:
    json.dump({"version": version}, handle)
"""


@dataclass(frozen=True)
class RecordedVersion:
    """A version a backend computed, and the git state (``git describe``) it was computed at."""

    version: str
    git: str | None


def needs_backend_version(directory: Path) -> bool:
    """True when pyproject.toml does not state the version (dynamic, setup.py, a VCS plugin)."""
    pyproject = directory / "pyproject.toml"
    if not fsread.is_file(pyproject):
        return True
    data = load_toml(pyproject)
    tool = data.get("tool")
    tool = tool if isinstance(tool, dict) else {}
    dynamic_versioning = tool.get("poetry-dynamic-versioning")
    if isinstance(dynamic_versioning, dict) and dynamic_versioning.get("enable") is True:
        return True
    project = data.get("project")
    if isinstance(project, dict) and "name" in project:  # not [project] holding only urls
        dynamic = project.get("dynamic", [])
        return "version" not in project or (isinstance(dynamic, list) and "version" in dynamic)
    poetry = tool.get("poetry")
    return not (isinstance(poetry, dict) and isinstance(poetry.get("version"), str))


def _git(directory: Path, *args: str) -> str | None:
    """Output of a read-only git command in ``directory``; None if it fails (no repo, no git)."""
    fsread.opaque("asked git")
    try:
        result = subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"},
        )
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def git_state(directory: Path) -> str | None:
    """``git describe`` of HEAD (nearest tag, distance, full commit); None outside a git repo."""
    return _git(directory, "describe", "--tags", "--long", "--always", "--abbrev=40", "HEAD")


def backend_version(directory: Path, build_system: BuildSystem, where: str) -> str:
    """The version ``build_system``'s backend reports for the source in ``directory``."""
    import tempfile  # the backend runs only for versions not recorded

    with tempfile.TemporaryDirectory(prefix="p2n-version-") as scratch:
        source = _clean_copy(directory, Path(scratch))
        requires = list(build_system.requires)
        for _round in range(3):
            report = _run_backend(source, build_system, requires, Path(scratch), where)
            if "version" in report:
                return str(report["version"])
            missing = [str(r) for r in report.get("missing", [])]
            if not missing or set(missing) <= set(requires):
                break
            requires += missing
    raise InputError(
        f"{where}: the build backend {build_system.backend} did not report a version "
        f"(it keeps asking for {missing}); set [project] version in pyproject.toml"
    )


def _clean_copy(directory: Path, scratch: Path) -> Path:
    """The source as committed at HEAD (a local clone), else a copy of the directory."""
    top = _git(directory, "rev-parse", "--show-toplevel")
    head = _git(directory, "rev-parse", "--verify", "HEAD")
    if top is not None and head is not None:
        relative = directory.resolve().relative_to(Path(top).resolve())
        clone = scratch / "clone"
        for args in (
            ["clone", "--quiet", "--shared", "--no-checkout", "--", top, str(clone)],
            ["-C", str(clone), "checkout", "--quiet", "--detach", head, "--"],
        ):
            fsread.opaque("ran git")
            result = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise InputError(f"{top}: cannot clone HEAD to read the version: {result.stderr}")
        return clone / relative
    import shutil

    copy = scratch / "copy"
    shutil.copytree(
        directory, copy, symlinks=True, ignore=shutil.ignore_patterns(".venv", "result*")
    )
    return copy


def _run_backend(
    source: Path, build_system: BuildSystem, requires: list[str], scratch: Path, where: str
) -> dict[str, Any]:
    import json

    from packaging.requirements import InvalidRequirement, Requirement

    from .buildlock import uv_command

    for requirement in requires:
        try:
            Requirement(requirement)
        except InvalidRequirement as exc:
            raise InputError(f"{where}: invalid build requirement {requirement!r}") from exc
    report = scratch / "report.json"
    report.unlink(missing_ok=True)
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    env.setdefault("UV_PYTHON_DOWNLOADS", "never")
    # Build requirements are input: a git URL among them must not reach ext:: helpers.
    env.setdefault("GIT_ALLOW_PROTOCOL", "https:ssh")
    with_args = [arg for requirement in requires for arg in ("--with", requirement)]
    command = [
        *uv_command(),
        "run",
        "--quiet",
        "--no-project",
        "--no-config",
        "--python",
        sys.executable,
        *with_args,
        "--",
        "python",
        "-c",
        _HOOK_RUNNER,
        build_system.backend,
        json.dumps(list(build_system.backend_path)),
        str(report),
    ]
    fsread.opaque("ran a build backend")
    result = subprocess.run(
        command, cwd=source, capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0 or not report.is_file():
        reason = " ".join((result.stderr or result.stdout).split())[-400:]
        raise InputError(
            f"{where}: its build backend {build_system.backend} could not say its version "
            f"(prepare_metadata_for_build_wheel in a clean clone of HEAD): {reason}"
        )
    loaded: dict[str, Any] = json.loads(report.read_text())
    return loaded
