"""``bench/run``: p2n against uv and against plain Nix builds, measured in one run.

Sections (``--only`` picks some):

- ``generate``: ``p2n generate`` on the largest real lock fixtures, a synthetic
  1,000-package uv.lock and the poetry.lock fixtures (162 and ~650 packages,
  index cache warm), each uv lock paired with ``uv export --frozen --offline``
  on the same lock (A B A B ...), each poetry.lock with ``poetry export`` when a
  Poetry with the export plugin is found (``$P2N_BENCH_POETRY``, else
  ``poetry`` on PATH). Each twice: *cold*, p2n's generate cache and TOML parse
  cache emptied before every run (the index cache stays: a poetry.lock's URLs
  come from it), and *warm*, the caches as the previous run left them (the
  generate cache then answers: nothing the run reads changed). The bench's own
  ``XDG_CACHE_HOME`` is in its work directory.
- ``eval``: ``nix eval --raw …#packages.x86_64-linux.default.drvPath`` of the
  generated flakes, whole command and the evaluator's own CPU time
  (``NIX_SHOW_STATS``), beside a baseline that evaluates only the env's name.
- ``build``: cold build of ``tests/fixtures/uv/medium`` (~70 wheels) with Nix
  into a fresh chroot store each run, against ``uv sync --frozen`` with an empty
  cache and a fresh venv (with and without ``--compile-bytecode``: p2n's builds
  byte-compile, plain ``uv sync`` does not, so the first is the fair pair).
  The store starts empty, so a Nix build also copies and patches the interpreter
  (the stand-in) that ``uv sync --python`` finds installed; the variant
  "interpreter in the store" builds it (and patchelf, zlib, libstdc++: what a
  user's store already holds from nixpkgs) into the fresh store first, unmeasured.
  Each build's timeline (``--log-format internal-json``) is kept in the work
  directory as ``timeline-<n>-<project>.log``.
- ``big``: the same for ``bench/fixtures/bigwheels`` (jax/jaxlib, scipy, pyarrow,
  polars, opencv, pandas, scikit-learn: ~340 MB of wheels; no CPU build of torch
  is reachable from these machines), ``max-jobs auto`` (both variants) against
  ``uv sync --compile-bytecode``, one run each.
- ``verify``: ``p2n verify`` of the same environment against one plain cold build of
  it in the same round, measured both with Nix defaults (``max-jobs = 1``: what a
  user's ``nix build`` does, the target's pair) and with ``max-jobs auto``. The settings
  differ by design: verify picks its own, run A ``max-jobs`` = CPUs (at most 8, so
  ``auto`` on this machine) and ``cores = 1``, run B more jobs and ``cores``, pinned to
  one CPU (``cpus``), the environment variants beside B with A's settings. Verify's
  wall time includes removing its stores; the cold builds' store removal is not timed.

Builds use the nixpkgs stand-in of the tests (``tests/support/standin.py``), whose
standard library carries ``unchecked-hash`` bytecode like nixpkgs' python. One row
(not with ``--quick``) uses a stand-in without it, where every build that imports the
stdlib compiles it from source.

Targets are printed beside the figures, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.measure import (  # noqa: E402
    CommandFailed,
    Sample,
    median,
    read_timeline,
    run_measured,
)
from bench.synthetic import write_synthetic_project  # noqa: E402
from tests.support.nixenv import TEST_NIX_CONFIG  # noqa: E402
from tests.support.standin import STANDIN_SYSTEM, host_python, make_standin  # noqa: E402

SCHEMA = "p2n.bench/1"
UV_FIXTURES = REPO / "tests" / "fixtures" / "uv"
POETRY_FIXTURES = {
    "poetry-large": REPO / "tests" / "fixtures" / "poetry" / "large-2.1",
    "poetry-xl": REPO / "tests" / "fixtures" / "poetry" / "xl-2.1",
}
BUILD_PROJECT = "medium"
BIG_PROJECT = "bigwheels"
BENCH_FIXTURES = REPO / "bench" / "fixtures"
TUNED_OPTIONS = ("--option", "max-jobs", "auto")

TARGETS = {
    "generate": "≤ 4x uv export (~350-package uv.lock)",
    "generate-poetry": "< 0.3 s, < 100 MiB warm (~650-package poetry.lock)",
    "eval": "< 0.1 s beyond the interpreter (~330 packages)",
    "build": "≤ 1.3x uv sync --compile-bytecode cold",
    "build-big": "≤ 1.2x uv sync --compile-bytecode cold",
    "verify": "≤ 1.5x one cold build (Nix defaults)",
}


@dataclass
class Bench:
    """Where the bench works and what it was asked for."""

    work: Path
    runs: int
    quick: bool
    log: Path
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    projects: dict[str, Path] = field(default_factory=dict)
    standins: dict[str, Path] = field(default_factory=dict)
    builds: int = 0

    def add(self, section: str, row: dict[str, Any]) -> None:
        self.results.setdefault(section, []).append(row)

    def note(self, message: str) -> None:
        print(f"bench: {message}", file=sys.stderr, flush=True)


def tool(name: str) -> str:
    """A tool from the repo's virtualenv (as scripts/setup.sh makes it), else from PATH."""
    local = REPO / ".venv" / "bin" / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"bench: {name} not found; run scripts/setup.sh")
    return found


def nix_env(**extra: str) -> dict[str, str]:
    """The environment for Nix: the tests' settings (no substituters, sandbox on)."""
    env = dict(os.environ)
    env["NIX_CONFIG"] = TEST_NIX_CONFIG
    env.update(extra)
    return env


def remove_tree(path: Path) -> None:
    """Remove a tree Nix made read-only (a chroot store)."""
    if not path.exists():
        return
    subprocess.run(["chmod", "-R", "u+w", str(path)], check=False)
    shutil.rmtree(path, ignore_errors=True)


# --- setup -------------------------------------------------------------------


def compile_p2n() -> None:
    """Byte-compile p2n's own modules, as ``pip install`` does for a user.

    The bench runs the editable install of this checkout; with
    ``PYTHONDONTWRITEBYTECODE`` set (it is on these machines) every measured
    ``p2n`` would otherwise compile its modules from source, ~0.1 s a run that
    no installed p2n pays.
    """
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(REPO / "pyproject2nix")], check=True
    )


def make_standins(bench: Bench) -> None:
    """The tests' stand-in (stdlib byte-compiled like nixpkgs' python), and one without pycs."""
    plain = make_standin(bench.work / "standin-no-bytecode", bytecode=False)
    compiled = make_standin(bench.work / "standin")
    bench.standins = {"plain": plain, "bytecode": compiled}


def project(bench: Bench, name: str) -> Path:
    """A copy of a lock fixture (or the synthetic lock) in the work directory, generated once."""
    if name in bench.projects:
        return bench.projects[name]
    directory = bench.work / "projects" / name
    if name == "synthetic-1000":
        write_synthetic_project(directory, 1000)
    elif name in POETRY_FIXTURES:
        shutil.copytree(POETRY_FIXTURES[name], directory)
    else:
        directory.mkdir(parents=True)
        for file in ("pyproject.toml", "uv.lock"):
            shutil.copy2(fixture(name) / file, directory / file)
    run_measured(
        [tool("p2n"), "generate", "--project", str(directory)], env=p2n_env(bench), log=bench.log
    )
    bench.projects[name] = directory
    return directory


def p2n_env(bench: Bench) -> dict[str, str]:
    """p2n's environment: its caches in the bench's work directory."""
    return {**os.environ, "XDG_CACHE_HOME": str(bench.work / "cache")}


CACHE_STATES = ("cold", "warm")


def forget_generate(bench: Bench) -> None:
    """Empty the caches of p2n generate's own work (not the package index cache)."""
    for part in ("generate", "toml"):
        shutil.rmtree(bench.work / "cache" / "p2n" / part, ignore_errors=True)


def measure_p2n(bench: Bench, argv: list[str], cache: str) -> Sample:
    """One run of ``argv`` (p2n) with its caches ``cold`` (emptied first) or ``warm``."""
    if cache == "cold":
        forget_generate(bench)
    return run_measured(argv, env=p2n_env(bench), log=bench.log, own_rss=True)


def fixture(name: str) -> Path:
    """A uv project of the tests' fixtures, or of the bench's own (the big-wheel lock)."""
    own = BENCH_FIXTURES / name
    return own if own.is_dir() else UV_FIXTURES / name


def wheels_built(timeline: dict[str, Any]) -> int:
    """Wheels a cold build fetched (its timeline's fetches), less installer's own wheel."""
    return int(timeline["fetches"]) - 1


def count_packages(lock: Path) -> int:
    return sum(1 for line in lock.read_text().splitlines() if line == "[[package]]")


# --- sections ----------------------------------------------------------------


def bench_generate(bench: Bench) -> None:
    locks = ["large", "forks", "medium", "synthetic-1000"]
    for name in locks:
        directory = project(bench, name)  # also the warm-up run
        lock = directory / "uv.lock"
        p2n_argv = [tool("p2n"), "generate", "--project", str(directory)]
        uv_argv = [tool("uv"), "export", "--frozen", "--offline", "-q", "--no-header"]
        run_measured(uv_argv, cwd=directory, log=bench.log, stdout_to_log=False)
        for cache in CACHE_STATES:
            p2n: list[Sample] = []
            uv: list[Sample] = []
            for _ in range(bench.runs):
                p2n.append(measure_p2n(bench, p2n_argv, cache))
                uv.append(  # through GNU time as p2n is: the pair pays the same
                    run_measured(
                        uv_argv, cwd=directory, log=bench.log, stdout_to_log=False, own_rss=True
                    )
                )
            ratios = [a.wall / b.wall for a, b in zip(p2n, uv, strict=True)]
            bench.add(
                "generate",
                {
                    "lock": name,
                    "format": "uv.lock",
                    "cache": cache,
                    "packages": count_packages(lock),
                    "lock_bytes": lock.stat().st_size,
                    "runs": bench.runs,
                    "p2n_wall_s": median([s.wall for s in p2n]),
                    "p2n_cpu_s": median([s.cpu for s in p2n]),
                    "p2n_peak_rss_mib": max(s.max_rss_kib for s in p2n) / 1024,
                    "uv_export_wall_s": median([s.wall for s in uv]),
                    "ratio": median(ratios),
                    "ratio_min": min(ratios),
                    "ratio_max": max(ratios),
                    "target": TARGETS["generate"] if name in ("large", "synthetic-1000") else None,
                    "meets_target": median(ratios) <= 4 if name == "large" else None,
                },
            )
    if not bench.quick:
        for name in POETRY_FIXTURES:
            bench_generate_poetry(bench, name)


def poetry_tool() -> str | None:
    """A Poetry that has ``export`` (poetry-plugin-export), or None: the peer is optional."""
    found = os.environ.get("P2N_BENCH_POETRY") or shutil.which("poetry")
    if found is None:
        return None
    probe = subprocess.run([found, "export", "--help"], capture_output=True, check=False)
    return found if probe.returncode == 0 else None


def bench_generate_poetry(bench: Bench, name: str) -> None:
    """``p2n generate`` of a poetry.lock (index cache warm), beside ``poetry export`` if found."""
    try:
        directory = project(bench, name)  # warm-up: fills p2n's index cache
    except CommandFailed as exc:
        bench.note(f"{name} generate skipped: {exc}")
        return
    argv = [tool("p2n"), "generate", "--project", str(directory)]
    poetry = poetry_tool()
    peer_argv = (
        [poetry, "export", "--no-interaction", "-f", "requirements.txt", "--all-groups"]
        if poetry
        else None
    )
    peer_env = {**os.environ, "POETRY_VIRTUALENVS_CREATE": "false"}
    if peer_argv is not None:
        run_measured(peer_argv, cwd=directory, env=peer_env, log=bench.log, stdout_to_log=False)
    for cache in CACHE_STATES:
        bench_poetry_runs(bench, name, directory, argv, peer_argv, peer_env, cache)


def bench_poetry_runs(
    bench: Bench,
    name: str,
    directory: Path,
    argv: list[str],
    peer_argv: list[str] | None,
    peer_env: dict[str, str],
    cache: str,
) -> None:
    """Runs of one poetry.lock with p2n's caches ``cold`` or ``warm``, paired with the peer."""
    samples: list[Sample] = []
    peer: list[Sample] = []
    for _ in range(bench.runs):
        samples.append(measure_p2n(bench, argv, cache))
        if peer_argv is not None:
            peer.append(
                run_measured(
                    peer_argv,
                    cwd=directory,
                    env=peer_env,
                    log=bench.log,
                    stdout_to_log=False,
                    own_rss=True,
                )
            )
    ratios = [a.wall / b.wall for a, b in zip(samples, peer, strict=True)] if peer else []
    wall = median([s.wall for s in samples])
    lock = directory / "poetry.lock"
    bench.add(
        "generate",
        {
            "lock": name,
            "format": "poetry.lock",
            "cache": cache,
            "packages": count_packages(lock),
            "lock_bytes": lock.stat().st_size,
            "runs": bench.runs,
            "p2n_wall_s": wall,
            "p2n_cpu_s": median([s.cpu for s in samples]),
            "p2n_peak_rss_mib": max(s.max_rss_kib for s in samples) / 1024,
            "paired_with": "poetry export" if peer else None,
            "peer_wall_s": median([s.wall for s in peer]) if peer else None,
            "uv_export_wall_s": None,
            "ratio": median(ratios) if ratios else None,
            "target": TARGETS["generate-poetry"] if name == "poetry-xl" else None,
            "meets_target": (
                wall < 0.3 and max(s.max_rss_kib for s in samples) < 100 * 1024
                if name == "poetry-xl"
                else None
            ),
        },
    )


def interpreter_flake(bench: Bench) -> Path:
    """A flake that evaluates only the interpreter: the part of every eval that is nixpkgs'."""
    directory = bench.work / "projects" / "interpreter-only"
    directory.mkdir(parents=True, exist_ok=True)
    attr = host_python().attr_name
    (directory / "flake.nix").write_text(
        "{\n"
        '  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";\n'
        f"  outputs = {{ self, nixpkgs }}: {{ interpreter = "
        f"nixpkgs.legacyPackages.{STANDIN_SYSTEM}.{attr}; }};\n"
        "}\n"
    )
    return directory


def eval_figures(bench: Bench, ref: str, label: str) -> tuple[list[Sample], list[float]]:
    """Whole-command samples and the evaluator's CPU seconds of ``nix eval --raw ref``."""
    stats = bench.work / f"eval-stats-{label}.json"
    env = nix_env(NIX_SHOW_STATS="1", NIX_SHOW_STATS_PATH=str(stats))
    argv = [
        "nix",
        "eval",
        "--raw",
        ref,
        "--override-input",
        "nixpkgs",
        f"path:{bench.standins['bytecode']}",
        "--option",
        "eval-cache",
        "false",
    ]
    run_measured(argv, env=env, log=bench.log)  # warm-up: sources into the store
    samples: list[Sample] = []
    evaluator: list[float] = []
    for _ in range(bench.runs):
        samples.append(run_measured(argv, env=env, log=bench.log))
        evaluator.append(float(json.loads(stats.read_text())["cpuTime"]))
    return samples, evaluator


def bench_eval(bench: Bench) -> None:
    base_samples, base_cpu = eval_figures(
        bench, f"path:{interpreter_flake(bench)}#interpreter.drvPath", "interpreter"
    )
    for name in ["large", "synthetic-1000", "medium"]:
        directory = project(bench, name)
        ref = f"path:{directory}#packages.{STANDIN_SYSTEM}.default"
        samples, evaluator = eval_figures(bench, f"{ref}.drvPath", name)
        listed = subprocess.run(
            [
                "nix",
                "eval",
                "--json",
                f"{ref}.packages",
                "--override-input",
                "nixpkgs",
                f"path:{bench.standins['bytecode']}",
            ],
            env=nix_env(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        cpu = median(evaluator)
        bench.add(
            "eval",
            {
                "lock": name,
                "packages": len(json.loads(listed)),
                "runs": bench.runs,
                "whole_command_s": median([s.wall for s in samples]),
                "evaluator_cpu_s": cpu,
                "interpreter_only_whole_command_s": median([s.wall for s in base_samples]),
                "interpreter_only_evaluator_cpu_s": median(base_cpu),
                "p2n_share_evaluator_cpu_s": cpu - median(base_cpu),
                "peak_rss_mib": max(s.max_rss_kib for s in samples) / 1024,
                "target": TARGETS["eval"] if name == "large" else None,
                "meets_target": cpu - median(base_cpu) < 0.1 if name == "large" else None,
            },
        )


@dataclass(frozen=True)
class BuildVariant:
    label: str
    kind: str  # "nix" or "uv"
    standin: str = "bytecode"
    options: tuple[str, ...] = ()
    # The interpreter and the nixpkgs packages wheels link (patchelf, zlib, libstdc++)
    # built into the fresh store before the measured build, as uv's interpreter is there
    # before `uv sync`: the measured build is then p2n's derivations alone.
    interpreter_in_store: bool = False


# What a user's store holds from nixpkgs before a cold build of p2n's derivations.
NIXPKGS_SEED = ("patchelf", "zlib", "stdenv.cc.cc.lib")


TUNED_VARIANTS = (
    BuildVariant("nix, max-jobs auto", "nix", options=TUNED_OPTIONS),
    BuildVariant(
        "nix, max-jobs auto, interpreter in the store",
        "nix",
        options=TUNED_OPTIONS,
        interpreter_in_store=True,
    ),
)
"""The ``max-jobs auto`` builds, with and without nixpkgs' part already in the store."""


def build_variants(quick: bool) -> list[BuildVariant]:
    variants = [
        BuildVariant("nix, Nix defaults", "nix"),
        *TUNED_VARIANTS,
        BuildVariant("uv sync", "uv"),
        BuildVariant("uv sync --compile-bytecode", "uv", options=("--compile-bytecode",)),
    ]
    if not quick:
        variants.insert(
            0, BuildVariant("nix, Nix defaults, stand-in stdlib without .pyc", "nix", "plain")
        )
    return variants


def nix_cold_build(
    bench: Bench, variant: BuildVariant, rep: int, name: str = BUILD_PROJECT
) -> dict[str, Any]:
    directory = project(bench, name)
    bench.builds += 1  # stores are removed after each build: number them, keep each timeline
    store = bench.work / "stores" / f"{bench.builds}"
    stamped = bench.work / f"timeline-{store.name}-{name}.log"
    standin = bench.standins[variant.standin]
    if variant.interpreter_in_store:
        python_attr = f"legacyPackages.{STANDIN_SYSTEM}.{host_python().attr_name}"
        seed = [f"path:{standin}#{attr}" for attr in (python_attr, *NIXPKGS_SEED)]
        run_measured(
            ["nix", "build", "--no-link", "--store", f"local?root={store}", *seed],
            env=nix_env(),
            log=bench.log,
        )
    argv = [
        "nix",
        "build",
        "--no-link",
        "--store",
        f"local?root={store}",
        f"path:{directory}#packages.{STANDIN_SYSTEM}.default",
        "--override-input",
        "nixpkgs",
        f"path:{standin}",
        "--log-format",
        "internal-json",
        "-v",
        *variant.options,
    ]
    try:
        sample = run_measured(argv, env=nix_env(), log=bench.log, stamped_stderr=stamped)
    finally:
        remove_tree(store)
    if sample.returncode != 0:
        raise CommandFailed(f"nix build exited {sample.returncode}; see {stamped}")
    return {
        "wall_s": sample.wall,
        "cpu_s": sample.cpu,
        "peak_rss_mib": sample.max_rss_kib / 1024,
        "timeline": read_timeline(stamped).as_dict(),
        "timeline_log": str(stamped),
    }


def uv_cold_sync(
    bench: Bench, variant: BuildVariant, rep: int, name: str = BUILD_PROJECT
) -> dict[str, Any]:
    source = fixture(name)
    directory = bench.work / "uv" / f"{name}-{rep}-{len(variant.options)}"
    directory.mkdir(parents=True)
    for file in ("pyproject.toml", "uv.lock"):
        shutil.copy2(source / file, directory / file)
    env = dict(os.environ)
    env.update(
        UV_CACHE_DIR=str(directory / "cache"),
        UV_PROJECT_ENVIRONMENT=str(directory / "venv"),
        UV_PYTHON_DOWNLOADS="never",
    )
    python = getattr(sys, "_base_executable", sys.executable)
    argv = [tool("uv"), "sync", "--frozen", "-q", "--python", python, *variant.options]
    try:
        sample = run_measured(argv, cwd=directory, env=env, log=bench.log)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return {"wall_s": sample.wall, "cpu_s": sample.cpu, "peak_rss_mib": sample.max_rss_kib / 1024}


def bench_build_and_verify(bench: Bench, sections: set[str]) -> None:
    (bench.work / "stores").mkdir(exist_ok=True)
    directory = project(bench, BUILD_PROJECT)
    variants = (
        build_variants(bench.quick)
        if "build" in sections
        else [
            BuildVariant("nix, Nix defaults", "nix"),
            BuildVariant("nix, max-jobs auto", "nix", options=TUNED_OPTIONS),
        ]
    )
    runs = 1 if bench.quick else min(bench.runs, 2)
    per_variant: dict[str, list[dict[str, Any]]] = {v.label: [] for v in variants}
    verify_runs: list[dict[str, Any]] = []
    for rep in range(runs):
        for variant in variants:
            bench.note(f"cold build {rep + 1}/{runs}: {variant.label}")
            measure: Callable[[Bench, BuildVariant, int], dict[str, Any]] = (
                nix_cold_build if variant.kind == "nix" else uv_cold_sync
            )
            per_variant[variant.label].append(measure(bench, variant, rep))
        if "verify" in sections:
            bench.note(f"verify {rep + 1}/{runs}")
            verify_runs.append(run_verify(bench, directory))

    first_nix = next(runs[0] for runs in per_variant.values() if "timeline" in runs[0])
    wheels = wheels_built(first_nix["timeline"])

    def walls(label: str) -> list[float]:
        return [run["wall_s"] for run in per_variant[label]]

    if "build" in sections:
        for variant in variants:
            row: dict[str, Any] = {
                "variant": variant.label,
                "kind": variant.kind,
                "project": BUILD_PROJECT,
                "wheels_per_system": wheels,
                "options": list(variant.options),
                "standin": variant.standin if variant.kind == "nix" else None,
                "runs": runs,
                "wall_s": median(walls(variant.label)),
                "cpu_s": median([r["cpu_s"] for r in per_variant[variant.label]]),
                "peak_rss_mib": max(r["peak_rss_mib"] for r in per_variant[variant.label]),
                "load_average": os.getloadavg()[0],
            }
            if variant.kind == "nix":
                for baseline in ("uv sync", "uv sync --compile-bytecode"):
                    ratios = [
                        a / b for a, b in zip(walls(variant.label), walls(baseline), strict=True)
                    ]
                    row[f"ratio_vs_{baseline.replace(' ', '_').replace('--', '')}"] = median(ratios)
                row["timelines"] = [r["timeline"] for r in per_variant[variant.label]]
                row["target"] = TARGETS["build"]
                row["meets_target"] = row["ratio_vs_uv_sync_compile-bytecode"] <= 1.3
            bench.add("build", row)
    if "verify" in sections:
        plain = walls("nix, Nix defaults")
        tuned = walls("nix, max-jobs auto")
        ratios = [v["wall_s"] / p for v, p in zip(verify_runs, plain, strict=True)]
        tuned_ratios = [v["wall_s"] / p for v, p in zip(verify_runs, tuned, strict=True)]
        bench.add(
            "verify",
            {
                "project": BUILD_PROJECT,
                "runs": runs,
                "verify_wall_s": median([v["wall_s"] for v in verify_runs]),
                "verify_cpu_s": median([v["cpu_s"] for v in verify_runs]),
                "one_cold_build_wall_s": median(plain),
                "one_cold_build_max_jobs_auto_wall_s": median(tuned),
                "ratio": median(ratios),
                "ratio_vs_max_jobs_auto": median(tuned_ratios),
                "paired_with": "one cold build, Nix defaults (max-jobs 1); also max-jobs auto",
                "verdict": [v["verdict"] for v in verify_runs],
                "verify_timings_s": [v["timings"] for v in verify_runs],
                "load_average": os.getloadavg()[0],
                "target": TARGETS["verify"],
                "meets_target": median(ratios) <= 1.5,
            },
        )


def bench_big(bench: Bench) -> None:
    """The big-wheel lock: cold builds with ``max-jobs auto`` against uv, in turn."""
    (bench.work / "stores").mkdir(exist_ok=True)
    nix_variants = list(TUNED_VARIANTS)
    uv_variant = BuildVariant("uv sync --compile-bytecode", "uv", options=("--compile-bytecode",))
    bench.note(f"cold build of the big-wheel lock: {nix_variants[0].label}")
    builds = [nix_cold_build(bench, nix_variants[0], 0, BIG_PROJECT)]
    bench.note("cold build of the big-wheel lock: uv sync --compile-bytecode")
    uv = uv_cold_sync(bench, uv_variant, 0, BIG_PROJECT)
    bench.note(f"cold build of the big-wheel lock: {nix_variants[1].label}")
    builds.append(nix_cold_build(bench, nix_variants[1], 0, BIG_PROJECT))
    for variant, nix in zip(nix_variants, builds, strict=True):
        ratio = nix["wall_s"] / uv["wall_s"]
        bench.add(
            "big",
            {
                "project": BIG_PROJECT,
                "variant": variant.label,
                "wheels": wheels_built(nix["timeline"]),
                "download_bytes": wheel_bytes(fixture(BIG_PROJECT) / "uv.lock"),
                "nix_wall_s": nix["wall_s"],
                "nix_cpu_s": nix["cpu_s"],
                "nix_timeline": nix["timeline"],
                "uv_compile_bytecode_wall_s": uv["wall_s"],
                "uv_compile_bytecode_cpu_s": uv["cpu_s"],
                "ratio": ratio,
                "load_average": os.getloadavg()[0],
                "target": TARGETS["build-big"],
                "meets_target": ratio <= 1.2,
            },
        )


def wheel_bytes(lock: Path) -> int:
    """Bytes of the x86_64 Linux (or pure) wheels the lock's packages pull, one per package."""
    total = 0
    for package in tomllib.loads(lock.read_text())["package"]:
        sizes = [
            wheel.get("size", 0)
            for wheel in package.get("wheels", [])
            if wheel["url"].endswith(("-any.whl", "x86_64.whl"))
        ]
        total += max(sizes, default=0)
    return total


def run_verify(bench: Bench, directory: Path) -> dict[str, Any]:
    report = bench.work / "verify.json"
    argv = [
        tool("p2n"),
        "verify",
        f"path:{directory}",
        "--override-input",
        "nixpkgs",
        f"path:{bench.standins['bytecode']}",
        "--json",
        str(report),
        "--no-diffoscope",
        "-q",
    ]
    sample = run_measured(argv, env=nix_env(), log=bench.log, check=False)
    parsed = json.loads(report.read_text()) if report.exists() else {}
    if sample.returncode not in (0, 1):
        raise CommandFailed(f"p2n verify exited {sample.returncode}; see {bench.log}")
    return {
        "wall_s": sample.wall,
        "cpu_s": sample.cpu,
        "verdict": parsed.get("verdict"),
        "timings": parsed.get("timings_seconds"),
    }


# --- output ------------------------------------------------------------------


def fmt_s(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def verdict(meets: bool | None) -> str:
    return {True: "met", False: "MISSED", None: ""}[meets]


def table(results: dict[str, list[dict[str, Any]]]) -> list[list[str]]:
    rows = [["measure", "p2n / Nix", "paired with", "ratio", "target", ""]]
    for row in results.get("generate", []):
        what = f"generate {row['lock']} ({row['format']}, {row['packages']} pkgs, "
        what += f"{row['lock_bytes'] / 1e6:.1f} MB)"
        if row.get("cache"):
            what += f", {row['cache']}"
        mine = f"{fmt_s(row['p2n_wall_s'])}, {row['p2n_peak_rss_mib']:.0f} MiB"
        peer = row.get("paired_with") or "uv export"
        peer_wall = row.get("peer_wall_s") or row["uv_export_wall_s"]
        paired = f"{peer} {fmt_s(peer_wall)}" if row["ratio"] else "—"
        ratio = f"{row['ratio']:.1f}x" if row["ratio"] else "—"
        rows.append([what, mine, paired, ratio, row["target"] or "", verdict(row["meets_target"])])
    for row in results.get("eval", []):
        what = f"nix eval drvPath {row['lock']} ({row['packages']} pkgs)"
        mine = (
            f"{fmt_s(row['whole_command_s'])} (evaluator {fmt_s(row['evaluator_cpu_s'])}, "
            f"beyond the interpreter {fmt_s(row['p2n_share_evaluator_cpu_s'])})"
        )
        paired = (
            f"interpreter only {fmt_s(row['interpreter_only_whole_command_s'])} "
            f"(evaluator {fmt_s(row['interpreter_only_evaluator_cpu_s'])})"
        )
        rows.append([what, mine, paired, "", row["target"] or "", verdict(row["meets_target"])])
    builds = results.get("build", [])
    for row in builds:
        what = f"cold build {row['project']} ({row['wheels_per_system']} wheels): {row['variant']}"
        if row["kind"] == "nix":
            ratio = (
                f"{row['ratio_vs_uv_sync']:.1f}x / {row['ratio_vs_uv_sync_compile-bytecode']:.1f}x"
            )
            rows.append(
                [
                    what,
                    f"{fmt_s(row['wall_s'])} (CPU {fmt_s(row['cpu_s'])})",
                    "uv sync / --compile-bytecode",
                    ratio,
                    row["target"],
                    verdict(row["meets_target"]),
                ]
            )
        else:
            paired = f"{fmt_s(row['wall_s'])} (CPU {fmt_s(row['cpu_s'])})"
            rows.append([what, "", paired, "", "", ""])
    for row in results.get("big", []):
        rows.append(
            [
                f"cold build {row['project']} ({row['wheels']} wheels, "
                f"{row['download_bytes'] / 1e6:.0f} MB): "
                f"{row.get('variant', 'nix, max-jobs auto')}",
                f"{fmt_s(row['nix_wall_s'])} (CPU {fmt_s(row['nix_cpu_s'])})",
                f"uv sync --compile-bytecode {fmt_s(row['uv_compile_bytecode_wall_s'])} "
                f"(CPU {fmt_s(row['uv_compile_bytecode_cpu_s'])})",
                f"{row['ratio']:.2f}x",
                row["target"],
                verdict(row["meets_target"]),
            ]
        )
    for row in results.get("verify", []):
        tuned = row.get("one_cold_build_max_jobs_auto_wall_s")
        rows.append(
            [
                f"p2n verify {row['project']}",
                f"{fmt_s(row['verify_wall_s'])} (CPU {fmt_s(row.get('verify_cpu_s'))})",
                f"one cold build: Nix defaults {fmt_s(row['one_cold_build_wall_s'])}"
                + (f" / max-jobs auto {fmt_s(tuned)}" if tuned else ""),
                f"{row['ratio']:.1f}x"
                + (f" / {row['ratio_vs_max_jobs_auto']:.1f}x" if tuned else ""),
                row["target"],
                verdict(row["meets_target"]),
            ]
        )
    return rows


def render(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    def version(argv: list[str]) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return "missing"

    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "nix": version(["nix", "--version"]),
        "uv": version([tool("uv"), "--version"]),
        "p2n": version([tool("p2n"), "--version"]),
        "load_average_at_end": list(os.getloadavg()),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and variants (~2 min)")
    parser.add_argument("--runs", type=int, default=5, help="counted runs of quick commands")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results.json")
    parser.add_argument(
        "--only", default="generate,eval,build,verify,big", help="comma-separated sections"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    sections = set(args.only.split(","))
    unknown = sections - {"generate", "eval", "build", "verify", "big"}
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    work = Path(tempfile.mkdtemp(prefix="p2n-bench-"))
    bench = Bench(
        work=work, runs=2 if args.quick else args.runs, quick=args.quick, log=work / "commands.log"
    )
    started = time.monotonic()
    try:
        bench.note(f"work directory {work} (command output in {bench.log})")
        compile_p2n()
        make_standins(bench)
        if "generate" in sections:
            bench.note("generate")
            bench_generate(bench)
        if "eval" in sections:
            bench.note("nix eval")
            bench_eval(bench)
        if sections & {"build", "verify"}:
            bench_build_and_verify(bench, sections)
        if "big" in sections:
            bench_big(bench)
    except CommandFailed as exc:
        print(f"bench: failed: {exc}", file=sys.stderr)
        args.keep = True
        return 1
    finally:
        if args.keep:
            bench.note(f"kept {work}")
        else:
            remove_tree(work)
    rows = table(bench.results)
    text = render(rows)
    print(text)
    document = {
        "schema": SCHEMA,
        "machine": machine(),
        "quick": args.quick,
        "seconds": round(time.monotonic() - started, 1),
        "targets": TARGETS,
        "results": bench.results,
        "table": text.splitlines(),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.json.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    temporary.replace(args.json)
    bench.note(f"wrote {args.json} ({document['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
