"""Data format 2 of ``p2n/lock.nix`` (docs/format-2.md): each package once, bumps are one hunk."""

from __future__ import annotations

import difflib
import re
import shutil
from pathlib import Path

import pytest

from pyproject2nix.render import fold_systems, sri
from tests.helpers import EXAMPLE, FIXTURES, UV_FIXTURES, copy_project, run_p2n

LOCK_NIX = Path("p2n") / "lock.nix"


def _bump(lock: Path, name: str, old: str, new: str) -> None:
    """Bump ``name`` from ``old`` to ``new`` in a uv.lock: version, file URLs and hashes.

    The new files do not exist; nothing is fetched when generating, and the
    hashes only need to differ (each hex digit of the old ones shifted by one).
    """
    text = lock.read_text()
    start = text.index(f'[[package]]\nname = "{name}"\nversion = "{old}"\n')
    end = text.find("\n[[package]]\n", start + 1)
    block = text[start:end]
    bumped = re.sub(
        r"sha256:([0-9a-f]{64})",
        lambda m: "sha256:" + "".join(f"{(int(c, 16) + 1) % 16:x}" for c in m.group(1)),
        block.replace(f'version = "{old}"', f'version = "{new}"', 1).replace(f"-{old}", f"-{new}"),
    )
    assert bumped != block and f"-{new}" in bumped
    lock.write_text(text[:start] + bumped + text[end:])


def _hunks(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=3)
    return [line for line in diff if line.startswith("@@")]


@pytest.mark.parametrize(
    ("source", "name", "old", "new"),
    [
        (EXAMPLE, "rich", "15.0.0", "15.0.1"),  # a pure wheel on four systems
        (UV_FIXTURES / "medium", "idna", "3.20", "3.21"),
        (UV_FIXTURES / "medium", "black", "26.10.1", "26.10.2"),  # a wheel per architecture
    ],
    ids=["hello-rich", "medium-idna", "medium-black-native"],
)
def test_a_one_package_bump_changes_one_hunk(
    tmp_path: Path, source: Path, name: str, old: str, new: str
) -> None:
    project = copy_project(source, tmp_path / "project")
    first = run_p2n("generate", "--project", str(project))
    assert first.returncode == 0, first.stderr
    before = (project / LOCK_NIX).read_text()
    assert before.count(f'"{name}-{old}') or before.count(f"{name}-{old}")

    _bump(project / "uv.lock", name, old, new)
    again = run_p2n("generate", "--project", str(project))
    assert again.returncode == 0, again.stderr
    after = (project / LOCK_NIX).read_text()

    hunks = _hunks(before, after)
    assert len(hunks) == 1, "\n".join(difflib.unified_diff(before.splitlines(), after.splitlines()))
    assert f'version = "{new}";' in after and f'version = "{old}";' not in after.split(
        f"  {name} = {{"
    )[1].split("\n    };")[0]


def test_each_file_is_written_once(tmp_path: Path) -> None:
    """The example's four systems share every wheel: one URL per file, no per-system copy."""
    project = copy_project(EXAMPLE, tmp_path / "hello")
    assert run_p2n("generate", "--project", str(project)).returncode == 0
    lock_nix = (project / LOCK_NIX).read_text()
    urls = re.findall(r'url = "([^"]+)";', lock_nix)
    assert urls and len(urls) == len(set(urls))
    assert "perSystem" not in lock_nix and "onlySystems" not in lock_nix
    assert 'systems = [ "aarch64-darwin" "aarch64-linux" "x86_64-darwin" "x86_64-linux" ];' in (
        lock_nix
    )
    assert "sha256 = " not in lock_nix and 'hash = "sha256-' in lock_nix


def test_fold_keeps_the_common_value_and_the_differences() -> None:
    folded = fold_systems(
        {
            "aarch64-darwin": {"version": "1", "wheel": "a-mac.whl", "deps": []},
            "aarch64-linux": {"version": "1", "wheel": "a-arm.whl", "deps": [], "libraries": ["z"]},
            "x86_64-linux": {"version": "1", "wheel": "a-x86.whl", "deps": [], "libraries": ["z"]},
        }
    )
    assert folded["version"] == "1" and folded["deps"] == []
    assert folded["libraries"] == ["z"]  # two systems of three
    assert folded["wheel"] == "a-mac.whl"  # a tie: the first system's
    assert folded["perSystem"] == {
        "aarch64-darwin": {"libraries": None},
        "aarch64-linux": {"wheel": "a-arm.whl"},
        "x86_64-linux": {"wheel": "a-x86.whl"},
    }


def test_sri_is_what_nix_writes() -> None:
    # nix hash to-sri --type sha256 c647aa4a…c309 (attrs 26.1.0's wheel)
    hexdigest = "c647aa4a12dfbad9333ca4e71fe62ddc36f4e63b2d260a37a8b83d2f043ac309"
    assert sri(hexdigest) == "sha256-xkeqShLfutkzPKTnH+Yt3Db05jstJgo3qLg9LwQ6wwk="


def test_check_says_regenerate_for_format_1(tmp_path: Path) -> None:
    """A lock.nix written by p2n before format 2 (a real one, the example's) is stale."""
    project = copy_project(EXAMPLE, tmp_path / "hello")
    assert run_p2n("generate", "--project", str(project)).returncode == 0
    shutil.copyfile(FIXTURES / "format1" / "lock.nix", project / LOCK_NIX)
    (project / "p2n" / "inputs.json").unlink()
    result = run_p2n("check", "--project", str(project))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "p2n/lock.nix is data format 1, this p2n reads format 2" in result.stderr
    assert "run `p2n generate` to regenerate" in result.stderr
    assert run_p2n("generate", "--project", str(project)).returncode == 0
    assert run_p2n("check", "--project", str(project)).returncode == 0
