"""All-or-nothing output: a ``p2n generate`` killed at any moment leaves old or new files."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import UV_FIXTURES, copy_project, run_p2n


def _snapshot(project: Path) -> dict[str, bytes]:
    files = [project / "flake.nix", *(project / "p2n").rglob("*")]
    return {p.relative_to(project).as_posix(): p.read_bytes() for p in files if p.is_file()}


def test_sigkill_mid_generate_leaves_old_or_new_files(tmp_path: Path) -> None:
    project = copy_project(UV_FIXTURES / "large", tmp_path / "large")
    old_args = ("--system", "x86_64-linux")
    new_args = ("--system", "aarch64-linux", "--system", "x86_64-linux")
    assert run_p2n("generate", "--project", str(project), *new_args).returncode == 0
    new = _snapshot(project)
    assert run_p2n("generate", "--project", str(project), *old_args).returncode == 0
    old = _snapshot(project)
    assert old != new

    # How long each run takes here (each one writing), to aim the kills at its end,
    # where the files are written.
    durations = {}
    for args, ends_as in ((new_args, new), (old_args, old)):
        started = time.monotonic()
        assert run_p2n("generate", "--project", str(project), *args).returncode == 0
        durations[args] = time.monotonic() - started
        assert _snapshot(project) == ends_as

    rng = random.Random(1234)
    outcomes = {"old": 0, "new": 0}
    for attempt in range(24):
        args = new_args if attempt % 2 == 0 else old_args
        proc = subprocess.Popen(
            [sys.executable, "-m", "pyproject2nix", "generate", "--project", str(project), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.75, 1.1) * durations[args])
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        state = _snapshot(project)
        assert state in (old, new), f"attempt {attempt}: a mix of old and new files"
        outcomes["old" if state == old else "new"] += 1
    # The next run cleans up whatever staging directory a killed run left.
    assert run_p2n("generate", "--project", str(project), *old_args).returncode == 0
    assert _snapshot(project) == old
    assert [p.name for p in project.iterdir() if p.name.startswith(".p2n")] == []
