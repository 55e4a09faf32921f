"""Timing whole processes from outside, and reading Nix's build timeline.

A figure is the wall time of a whole command and the peak resident memory of
its largest process (``wait4``'s ``ru_maxrss``), as a user would see them.
Linux carries the forking parent's resident size into a child's ``ru_maxrss``
(the bench's own ~25-45 MiB), so small commands are measured with
``own_rss``: GNU time runs them as its child and reports theirs alone.
Pairs run in turn (A B A B ...) so drift of a shared machine hits both sides.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    """One finished run of a command."""

    wall: float
    cpu: float
    max_rss_kib: int
    returncode: int


GNU_TIME = "/usr/bin/time"
"""GNU time (Debian's ``time`` package), for a command's own peak memory."""


class CommandFailed(RuntimeError):
    """A measured command exited non-zero: its figure would mean nothing."""


def run_measured(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    stdout_to_log: bool = True,
    check: bool = True,
    stamped_stderr: Path | None = None,
    own_rss: bool = False,
) -> Sample:
    """Run ``argv`` to completion and measure it; its output goes to ``log`` (appended).

    With ``stamped_stderr``, stderr goes there instead, each line prefixed with
    the seconds since the start (for :func:`read_timeline`). With ``own_rss`` (and
    ``/usr/bin/time`` there), the peak memory is the command's own, not the bench's.
    """
    rss_file: Path | None = None
    if own_rss and os.access(GNU_TIME, os.X_OK):
        handle, name = tempfile.mkstemp(prefix="p2n-bench-rss-")
        os.close(handle)
        rss_file = Path(name)
        argv = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *argv]
    log_handle = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    try:
        if log and not isinstance(log_handle, int):
            log_handle.write(f"\n$ {' '.join(argv)}\n".encode())
            log_handle.flush()
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=log_handle if stdout_to_log else subprocess.DEVNULL,
            stderr=subprocess.PIPE if stamped_stderr else log_handle,
        )
        if stamped_stderr is not None:
            assert proc.stderr is not None
            with open(stamped_stderr, "w") as stamped:
                for raw in proc.stderr:
                    line = raw.decode(errors="replace")
                    stamped.write(f"{time.perf_counter() - started:.3f} {line}")
            proc.stderr.close()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if not isinstance(log_handle, int):
            log_handle.close()
    max_rss_kib = usage.ru_maxrss
    if rss_file is not None:
        lines = rss_file.read_text().split()
        rss_file.unlink()
        max_rss_kib = int(lines[-1]) if lines and lines[-1].isdigit() else max_rss_kib
    sample = Sample(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        max_rss_kib=max_rss_kib,
        returncode=proc.returncode,
    )
    if check and sample.returncode != 0:
        where = f"; see {log}" if log else ""
        raise CommandFailed(f"{' '.join(argv[:4])} … exited {sample.returncode}{where}")
    return sample


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


@dataclass(frozen=True)
class BuildTimeline:
    """What Nix's internal-json log says about one build: when each derivation ran."""

    derivations: int
    fetches: int
    installs: int
    first_build_start: float
    last_build_end: float
    install_median: float
    install_sum: float
    fetch_sum: float
    download_sum: float
    max_concurrency: int
    mean_concurrency: float

    def as_dict(self) -> dict[str, float | int]:
        return {key: round(value, 3) for key, value in self.__dict__.items()}


def read_timeline(stamped_log: Path) -> BuildTimeline:
    """Summarise a ``nix build --log-format internal-json -v`` log stamped by :func:`stamp_lines`.

    Each line is ``<seconds since start> @nix {json}``; activity type 105 is a
    derivation build, 101 a file transfer.
    """
    started: dict[int, tuple[float, int, str]] = {}
    builds: list[tuple[float, float, str]] = []
    downloads: list[float] = []
    for line in stamped_log.read_text(errors="replace").splitlines():
        stamp, _, rest = line.partition(" ")
        if not rest.startswith("@nix "):
            continue
        event = json.loads(rest[5:])
        if event.get("action") == "start":
            fields = event.get("fields") or [""]
            started[event["id"]] = (float(stamp), event.get("type", 0), str(fields[0]))
        elif event.get("action") == "stop" and event.get("id") in started:
            begin, kind, what = started.pop(event["id"])
            if kind == 105:
                builds.append((begin, float(stamp), what))
            elif kind == 101:
                downloads.append(float(stamp) - begin)
    if not builds:
        return BuildTimeline(0, 0, 0, 0, 0, 0, 0, 0, sum(downloads), 0, 0)
    fetches = [b for b in builds if b[2].endswith((".whl.drv", ".tar.gz.drv", ".zip.drv"))]
    installs = [b for b in builds if b not in fetches and not b[2].endswith("-env.drv")]
    first = min(b[0] for b in builds)
    last = max(b[1] for b in builds)
    busy = sum(end - begin for begin, end, _ in builds)
    events = sorted([(b[0], 1) for b in builds] + [(b[1], -1) for b in builds])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    install_times = [end - begin for begin, end, _ in installs]
    return BuildTimeline(
        derivations=len(builds),
        fetches=len(fetches),
        installs=len(installs),
        first_build_start=first,
        last_build_end=last,
        install_median=median(install_times),
        install_sum=sum(install_times),
        fetch_sum=sum(end - begin for begin, end, _ in fetches),
        download_sum=sum(downloads),
        max_concurrency=peak,
        mean_concurrency=busy / (last - first) if last > first else 0.0,
    )
