"""p2n packages itself: the repository's own flake.nix is made by `p2n generate`.

The flake is built from the repository's tracked files (what `nix build .#`
sees in a clone) with the nixpkgs stand-in. Freshness is `p2n check --project .`
in scripts/test.sh; here the built `p2n` must run, work in `nix develop`, and
agree with the p2n under test about its own generated files.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO, copy_tracked_files, run_nix, run_p2n

pytestmark = pytest.mark.nix


def test_own_generated_files_are_fresh() -> None:
    result = run_p2n("check", "--project", str(REPO))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def tracked_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's tracked files as they are in the working tree (as `.#` sees them)."""
    return copy_tracked_files(tmp_path_factory.mktemp("self") / "pyproject2nix")


@pytest.fixture(scope="module")
def built_p2n(tracked_copy: Path, standin_override: list[str]) -> Path:
    result = run_nix("build", f"path:{tracked_copy}", *standin_override, "--json", "--no-link")
    assert result.returncode == 0, result.stderr
    return Path(json.loads(result.stdout)[0]["outputs"]["out"]) / "bin" / "p2n"


def test_nix_run_shows_the_help(tracked_copy: Path, standin_override: list[str]) -> None:
    result = run_nix("run", f"path:{tracked_copy}#", *standin_override, "--", "--help")
    assert result.returncode == 0, result.stderr
    assert "generate" in result.stdout and "verify" in result.stdout


def test_dev_shell_has_p2n(tracked_copy: Path, standin_override: list[str]) -> None:
    result = run_nix(
        "develop",
        f"path:{tracked_copy}",
        *standin_override,
        "-c",
        "sh",
        "-c",
        "command -v p2n && p2n --help",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("/nix/store/"), result.stdout
    assert "generate" in result.stdout


def test_built_p2n_finds_its_own_files_fresh(built_p2n: Path, tracked_copy: Path) -> None:
    """The packaged p2n (its builder library included) regenerates the flake byte for byte."""
    result = subprocess.run(
        [str(built_p2n), "check", "--project", str(tracked_copy)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
