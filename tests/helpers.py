"""Small helpers shared by the unit tests (paths of fixtures, running the CLI)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
UV_FIXTURES = FIXTURES / "uv"
EXAMPLE = REPO / "examples" / "hello"
POETRY_FIXTURES = FIXTURES / "poetry"
PYLOCK_FIXTURES = FIXTURES / "pylock"
INDEX_FILES = FIXTURES / "index" / "files"


def run_p2n(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess, as a user would (exit codes included)."""
    return subprocess.run(
        [sys.executable, "-m", "pyproject2nix", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


GENERATED = ("flake.nix", "flake.lock", "p2n", "result")


def copy_project(source: Path, target: Path) -> Path:
    """Copy a fixture project's sources (not its generated files) to ``target``.

    The recorded build-system lock is kept: like uv.lock it pins inputs, and
    without it p2n would resolve build requirements anew (network, newer versions).
    """
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*GENERATED, "__pycache__"))
    build_lock = source / "p2n" / "build-systems.toml"
    if build_lock.is_file():
        (target / "p2n").mkdir()
        shutil.copyfile(build_lock, target / "p2n" / "build-systems.toml")
    return target


def run_nix(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run real Nix (settings from tests/support/nixenv.py via the environment)."""
    return subprocess.run(
        ["nix", *args], capture_output=True, text=True, check=False, cwd=cwd, timeout=900
    )


def copy_tracked_files(target: Path) -> Path:
    """The repository's tracked files as they are in the working tree (what ``.#`` sees)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if not source.is_file():  # deleted in the working tree
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name)
    return target
