"""``p2n diff`` on lock updates made by the real tools (tests/fixtures/diff/README.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.helpers import FIXTURES, POETRY_FIXTURES, UV_FIXTURES, run_p2n

DIFF = FIXTURES / "diff"


def _git_history(repo: Path, *revisions: Path) -> None:
    """Commit each directory's pyproject.toml and lock in turn into ``repo``."""
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for revision in revisions:
        for file in revision.iterdir():
            if file.name in ("pyproject.toml", "uv.lock", "poetry.lock"):
                shutil.copyfile(file, repo / file.name)
        subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
        subprocess.run(
            [
                "git",
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.invalid",
                "commit",
                "-qm",
                revision.name,
            ],
            cwd=repo,
            check=True,
        )


def _changes(document: dict[str, Any], system: str) -> dict[str, dict[str, Any]]:
    systems = document["systems"]
    assert isinstance(systems, dict)
    return {c["name"]: c for c in systems[system]["changes"]}


def test_torch_upgrade_json_per_system() -> None:
    result = run_p2n(
        "diff", str(DIFF / "torch-2.2" / "uv.lock"), str(DIFF / "torch-2.5" / "uv.lock"), "--json"
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["python"] == "3.11"
    linux = _changes(document, "x86_64-linux")
    torch = linux["torch"]
    assert torch["change"] == "upgraded"
    assert (torch["old"]["version"], torch["new"]["version"]) == ("2.2.2", "2.5.1")
    assert torch["new"]["filename"] == "torch-2.5.1-cp311-cp311-manylinux1_x86_64.whl"
    assert torch["new"]["native"] is True
    # Size deltas come from uv.lock's `size` of the chosen wheels.
    assert torch["size_delta"] == torch["new"]["size"] - torch["old"]["size"] > 100_000_000
    assert "major" in linux["numpy"]["flags"]
    assert "major" in linux["triton"]["flags"]
    assert "major" in linux["nvidia-cudnn-cu12"]["flags"]
    assert linux["filelock"]["flags"] == []
    # nvidia wheels are Linux-only: macOS never installs them.
    mac = _changes(document, "aarch64-darwin")
    assert "nvidia-cublas-cu12" in linux and "nvidia-cublas-cu12" not in mac
    assert mac["torch"]["new"]["filename"].endswith("macosx_11_0_arm64.whl")
    # torch 2.5.1 dropped Intel macOS wheels: the reviewer must see it.
    intel_mac = _changes(document, "x86_64-darwin")["torch"]
    assert intel_mac["new"]["file"] == "none"
    assert "no file for this system" in intel_mac["flags"]
    sizes = document["systems"]["x86_64-linux"]["download_size"]
    assert sizes["delta"] == sizes["new"] - sizes["old"] > 0
    assert document["systems"]["x86_64-linux"]["unchanged"] == 1  # mpmath


def test_torch_upgrade_text_table_from_git_revisions(tmp_path: Path) -> None:
    _git_history(tmp_path, DIFF / "torch-2.2", DIFF / "torch-2.5")
    result = run_p2n("diff", "HEAD~1:uv.lock", "uv.lock", "--system", "x86_64-linux", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "p2n diff: HEAD~1:uv.lock -> uv.lock (CPython 3.11)"
    assert lines[2].startswith("x86_64-linux: 22 upgraded, 1 unchanged; download +195.8 MiB")
    torch = next(line.split() for line in lines if " torch " in line)
    assert torch == ["upgraded", "torch", "2.2.2", "2.5.1", "registry", "wheel", "+143.9", "MiB"]
    numpy = next(line for line in lines if " numpy " in line)
    assert numpy.rstrip().endswith("major")
    # The same through --rev, with Python 3.12 (setuptools joins torch's dependencies there).
    rev = run_p2n(
        "diff", "--rev", "HEAD~1", "--system", "x86_64-linux", "--python", "3.12", cwd=tmp_path
    )
    assert rev.returncode == 0, rev.stderr
    setuptools = next(line.split() for line in rev.stdout.splitlines() if " setuptools " in line)
    assert setuptools[:4] == ["added", "setuptools", "75.6.0", "registry"]


def test_poetry_1_to_2_relock(tmp_path: Path) -> None:
    """Poetry 1.1.15's lock relocked by Poetry 2.2.1: only the yaml extra's pyyaml moves (down)."""
    _git_history(tmp_path, POETRY_FIXTURES / "lock-1.1", DIFF / "poetry-2.2-relock")
    plain = run_p2n("diff", "--rev", "HEAD~1", cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.splitlines()[2] == (
        "aarch64-darwin, aarch64-linux, x86_64-darwin, x86_64-linux: no changes, 9 unchanged"
    )
    extras = run_p2n("diff", "--rev", "HEAD~1", "--all-extras", "--markdown", cwd=tmp_path)
    assert extras.returncode == 0, extras.stderr
    assert "| `pyyaml` | 6.0.4 | 6.0.3 | registry | wheel |  | downgrade | downgraded |" in (
        extras.stdout
    )


def test_project_directories_and_no_change(tmp_path: Path) -> None:
    same = run_p2n("diff", str(UV_FIXTURES / "medium"), str(UV_FIXTURES / "medium"), "--json")
    assert same.returncode == 0, same.stderr
    for system in json.loads(same.stdout)["systems"].values():
        assert system["changes"] == [] and system["unchanged"] > 10


def test_git_errors_say_what_git_said(tmp_path: Path) -> None:
    outside = run_p2n("diff", "--rev", "HEAD", str(DIFF / "torch-2.5" / "uv.lock"), cwd=tmp_path)
    assert outside.returncode == 2
    assert "not a git repository" in outside.stderr, outside.stderr
    _git_history(tmp_path / "repo", DIFF / "torch-2.2")
    missing = run_p2n("diff", "--rev", "HEAD~3", "uv.lock", cwd=tmp_path / "repo")
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert "HEAD~3:./uv.lock" in missing.stderr, missing.stderr


def test_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    lock = str(DIFF / "torch-2.5" / "uv.lock")
    broken = tmp_path / "uv.lock"
    broken.write_text("version = [\n")
    for args in (
        ("nope.lock", lock),
        ("HEAD:uv.lock", lock),  # no commit yet
        ("-x", lock),
        (str(broken), lock),
        ("--rev", "HEAD", lock, lock),
        (lock,),
    ):
        result = (
            run_p2n("diff", "--", *args, cwd=tmp_path)
            if args[0] == "-x"
            else run_p2n("diff", *args, cwd=tmp_path)
        )
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stdout == ""
