"""``bench/curve``: how p2n's cost grows with the number of packages, beside uv's.

At each size (10, 100, 1,000 packages by default) in one run:

- ``generate``: ``p2n generate`` on a synthetic uv.lock of that size
  (:func:`bench.synthetic.synthetic_lock`, registry-shaped, 4 systems), paired
  with ``uv export --frozen --offline`` on the same lock (A B A B ...); cold:
  p2n's generate and TOML caches (in the work directory) emptied before each
  run, so the curve shows the work growing, not the generate cache answering;
- ``eval``: ``nix eval --raw …default.drvPath`` of the generated flake, whole
  command and the evaluator's own CPU time (``NIX_SHOW_STATS``), beside a flake
  that evaluates only the interpreter (what every eval pays for nixpkgs);
- ``build`` (sizes up to ``--build-max``): a cold ``nix build`` (``max-jobs
  auto``, fresh chroot store: interpreter, installer and every package built)
  of a project of that many real local wheels
  (:func:`bench.synthetic.write_buildable_project`, locked by ``uv lock``),
  paired with ``uv sync --frozen --offline --compile-bytecode`` of the same lock
  into a fresh venv with an empty cache.

Wall time and CPU time (user + system of the command and its children, which
for a root Nix without daemon includes every builder) are both recorded: on a
shared machine CPU time is the steadier figure. Writes ``bench/curve.json`` and
the plot ``docs/scaling.svg`` (plain SVG, log-log, made here without plotting
libraries). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.__main__ import compile_p2n, machine, nix_env, remove_tree, tool  # noqa: E402
from bench.measure import Sample, median, read_timeline, run_measured  # noqa: E402
from bench.synthetic import write_buildable_project, write_synthetic_project  # noqa: E402
from tests.support.standin import STANDIN_SYSTEM, host_python, make_standin  # noqa: E402

SCHEMA = "p2n.bench-curve/1"


def generate_point(work: Path, size: int, runs: int, log: Path) -> dict[str, Any]:
    directory = write_synthetic_project(work / f"gen-{size}", size)
    p2n_argv = [tool("p2n"), "generate", "--project", str(directory)]
    uv_argv = [tool("uv"), "export", "--frozen", "--offline", "-q", "--no-header"]
    cache = work / "cache"
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    run_measured(p2n_argv, env=env, log=log)  # warm-up, and the flake the eval reads
    run_measured(uv_argv, cwd=directory, log=log, stdout_to_log=False)
    p2n: list[Sample] = []
    uv: list[Sample] = []
    for _ in range(runs):
        for part in ("generate", "toml"):  # cold: the work itself, every run
            shutil.rmtree(cache / "p2n" / part, ignore_errors=True)
        p2n.append(run_measured(p2n_argv, env=env, log=log))
        uv.append(run_measured(uv_argv, cwd=directory, log=log, stdout_to_log=False))
    return {
        "project": str(directory),
        "p2n_wall_s": median([s.wall for s in p2n]),
        "p2n_cpu_s": median([s.cpu for s in p2n]),
        "p2n_peak_rss_mib": max(s.max_rss_kib for s in p2n) / 1024,
        "uv_export_wall_s": median([s.wall for s in uv]),
        "uv_export_cpu_s": median([s.cpu for s in uv]),
        "ratio_wall": median([a.wall / b.wall for a, b in zip(p2n, uv, strict=True)]),
        "ratio_cpu": median([a.cpu / max(b.cpu, 1e-3) for a, b in zip(p2n, uv, strict=True)]),
    }


def eval_point(ref: str, standin: Path, runs: int, work: Path, log: Path) -> dict[str, Any]:
    stats = work / "eval-stats.json"
    env = nix_env(NIX_SHOW_STATS="1", NIX_SHOW_STATS_PATH=str(stats))
    argv = ["nix", "eval", "--raw", ref, "--override-input", "nixpkgs", f"path:{standin}"]
    argv += ["--option", "eval-cache", "false"]
    run_measured(argv, env=env, log=log)  # warm-up: sources into the store
    samples: list[Sample] = []
    evaluator: list[float] = []
    for _ in range(runs):
        samples.append(run_measured(argv, env=env, log=log))
        evaluator.append(float(json.loads(stats.read_text())["cpuTime"]))
    return {
        "whole_command_s": median([s.wall for s in samples]),
        "whole_command_cpu_s": median([s.cpu for s in samples]),
        "evaluator_cpu_s": median(evaluator),
    }


def interpreter_ref(work: Path) -> str:
    directory = work / "interpreter-only"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "flake.nix").write_text(
        "{\n"
        '  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";\n'
        f"  outputs = {{ self, nixpkgs }}: {{ interpreter = "
        f"nixpkgs.legacyPackages.{STANDIN_SYSTEM}.{host_python().attr_name}; }};\n"
        "}\n"
    )
    return f"path:{directory}#interpreter.drvPath"


def build_point(work: Path, size: int, standin: Path, log: Path) -> dict[str, Any]:
    directory = write_buildable_project(work / f"build-{size}", size)
    python = getattr(sys, "_base_executable", sys.executable)
    uv_env = dict(os.environ, UV_PYTHON_DOWNLOADS="never")
    subprocess.run(
        [tool("uv"), "lock", "--offline", "-q", "--python", python],
        cwd=directory,
        env=uv_env,
        check=True,
    )
    run_measured([tool("p2n"), "generate", "--project", str(directory)], log=log)
    store = work / f"store-{size}"
    stamped = work / f"timeline-{size}.log"
    argv = ["nix", "build", "--no-link", "--store", f"local?root={store}"]
    argv += [f"path:{directory}#packages.{STANDIN_SYSTEM}.default"]
    argv += ["--override-input", "nixpkgs", f"path:{standin}"]
    argv += ["--log-format", "internal-json", "-v", "--option", "max-jobs", "auto"]
    try:
        nix = run_measured(argv, env=nix_env(), log=log, stamped_stderr=stamped)
    finally:
        remove_tree(store)
    sync_dir = work / f"uv-{size}"
    shutil.copytree(directory, sync_dir)
    uv_env.update(
        UV_CACHE_DIR=str(sync_dir / "cache"), UV_PROJECT_ENVIRONMENT=str(sync_dir / "venv")
    )
    sync_argv = [tool("uv"), "sync", "--frozen", "--offline", "-q", "--python", python]
    sync_argv.append("--compile-bytecode")
    try:
        uv = run_measured(sync_argv, cwd=sync_dir, env=uv_env, log=log)
    finally:
        shutil.rmtree(sync_dir, ignore_errors=True)
    timeline = read_timeline(stamped).as_dict()
    return {
        "nix_wall_s": nix.wall,
        "nix_cpu_s": nix.cpu,
        "derivations_built": timeline["derivations"],
        "timeline": timeline,
        "uv_sync_compile_bytecode_wall_s": uv.wall,
        "uv_sync_compile_bytecode_cpu_s": uv.cpu,
        "ratio_wall": nix.wall / uv.wall,
        "ratio_cpu": nix.cpu / max(uv.cpu, 1e-3),
    }


# --- the plot ----------------------------------------------------------------

_PANEL_W, _PANEL_H, _MARGIN = 300, 240, 56
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#7f7f7f")


def _log_ticks(low: float, high: float) -> list[float]:
    return [10.0**e for e in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)]


def _tick_label(value: float, unit: str) -> str:
    if unit == "s" and value < 1:
        return f"{value * 1000:g} ms"
    return f"{value:g} {unit}".strip()


def svg_plot(title: str, panels: Sequence[dict[str, Any]]) -> str:
    """Log-log panels side by side; each panel has ``title`` and ``series`` of (x, y) points.

    A series is ``{"label", "points", "dashed"}``; a grey dotted line of slope 1
    through the first point of the first series shows what linear growth looks like.
    """
    width = len(panels) * (_PANEL_W + _MARGIN) + _MARGIN + 20
    height = _PANEL_H + 2 * _MARGIN + 70
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2:.0f}" y="18" text-anchor="middle" font-size="14">{title}</text>',
    ]
    for number, panel in enumerate(panels):
        left = _MARGIN + number * (_PANEL_W + _MARGIN)
        top = _MARGIN
        points = [p for s in panel["series"] for p in s["points"]]
        xs = _log_ticks(min(p[0] for p in points), max(p[0] for p in points))
        ys = _log_ticks(min(p[1] for p in points), max(p[1] for p in points))

        def px(x: float, xs: list[float] = xs, left: int = left) -> float:
            span = math.log10(xs[-1]) - math.log10(xs[0]) or 1.0
            return left + (math.log10(x) - math.log10(xs[0])) / span * _PANEL_W

        def py(y: float, ys: list[float] = ys, top: int = top) -> float:
            span = math.log10(ys[-1]) - math.log10(ys[0]) or 1.0
            return top + _PANEL_H - (math.log10(y) - math.log10(ys[0])) / span * _PANEL_H

        out.append(
            f'<text x="{left + _PANEL_W / 2:.0f}" y="{top - 10}" text-anchor="middle" '
            f'font-size="12">{panel["title"]}</text>'
        )
        out.append(
            f'<rect x="{left}" y="{top}" width="{_PANEL_W}" height="{_PANEL_H}" '
            'fill="none" stroke="#333"/>'
        )
        for x in xs:
            out.append(
                f'<line x1="{px(x):.1f}" y1="{top}" x2="{px(x):.1f}" y2="{top + _PANEL_H}" '
                'stroke="#ddd"/>'
            )
            out.append(
                f'<text x="{px(x):.1f}" y="{top + _PANEL_H + 14}" text-anchor="middle">{x:g}</text>'
            )
        for y in ys:
            out.append(
                f'<line x1="{left}" y1="{py(y):.1f}" x2="{left + _PANEL_W}" y2="{py(y):.1f}" '
                'stroke="#ddd"/>'
            )
            out.append(
                f'<text x="{left - 4}" y="{py(y) + 4:.1f}" text-anchor="end">'
                f"{_tick_label(y, 's')}</text>"
            )
        out.append(
            f'<text x="{left + _PANEL_W / 2:.0f}" y="{top + _PANEL_H + 30}" '
            'text-anchor="middle">packages</text>'
        )
        (x1, y1) = panel["series"][0]["points"][0]
        x2 = min(xs[-1], x1 * ys[-1] / y1)  # slope 1, clipped to the panel
        y2 = y1 * x2 / x1
        if x2 > x1:
            out.append(
                f'<line x1="{px(x1):.1f}" y1="{py(y1):.1f}" x2="{px(x2):.1f}" y2="{py(y2):.1f}" '
                'stroke="#999" stroke-dasharray="2,3"/>'
            )
        for colour, series in zip(_COLOURS, panel["series"], strict=False):
            dash = ' stroke-dasharray="6,4"' if series.get("dashed") else ""
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in series["points"])
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'
            )
            for x, y in series["points"]:
                out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>')
        legend_top = top + _PANEL_H + 44
        for row, (colour, series) in enumerate(zip(_COLOURS, panel["series"], strict=False)):
            dash = ' stroke-dasharray="6,4"' if series.get("dashed") else ""
            y = legend_top + row * 14
            out.append(
                f'<line x1="{left}" y1="{y}" x2="{left + 22}" y2="{y}" stroke="{colour}" '
                f'stroke-width="2"{dash}/>'
            )
            out.append(f'<text x="{left + 28}" y="{y + 4}">{series["label"]}</text>')
    out.append(
        f'<text x="{width - 6}" y="{height - 6}" text-anchor="end" fill="#666">'
        "dotted grey: proportional to packages from the first point</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def panels(points: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The three panels of the plot from the measured points."""

    def series(section: str, key: str) -> list[tuple[float, float]]:
        return [(p["packages"], p[section][key]) for p in points if p.get(section)]

    chosen: list[dict[str, Any]] = [
        {
            "title": "p2n generate vs uv export (wall)",
            "series": [
                {"label": "p2n generate", "points": series("generate", "p2n_wall_s")},
                {
                    "label": "uv export --frozen --offline",
                    "points": series("generate", "uv_export_wall_s"),
                    "dashed": True,
                },
            ],
        },
        {
            "title": "nix eval of the env's drvPath",
            "series": [
                {"label": "whole command (wall)", "points": series("eval", "whole_command_s")},
                {"label": "evaluator CPU", "points": series("eval", "evaluator_cpu_s")},
                {
                    "label": "interpreter alone: evaluator CPU",
                    "points": series("eval", "interpreter_only_evaluator_cpu_s"),
                    "dashed": True,
                },
            ],
        },
    ]
    if any(p.get("build") for p in points):
        chosen.append(
            {
                "title": "cold build, max-jobs auto",
                "series": [
                    {"label": "nix build (wall)", "points": series("build", "nix_wall_s")},
                    {"label": "nix build (CPU)", "points": series("build", "nix_cpu_s")},
                    {
                        "label": "uv sync --compile-bytecode (wall)",
                        "points": series("build", "uv_sync_compile_bytecode_wall_s"),
                        "dashed": True,
                    },
                ],
            }
        )
    return chosen


def table(points: Sequence[dict[str, Any]]) -> str:
    lines = [
        f"{'packages':>8}  {'generate':>9}  {'uv export':>9}  {'ratio':>5}  "
        f"{'eval':>7}  {'evaluator':>9}  {'build':>8}  {'build CPU':>9}  "
        f"{'uv sync':>8}  {'ratio':>5}  {'derivs':>6}"
    ]
    for p in points:
        g, e, b = p["generate"], p["eval"], p.get("build")
        row = (
            f"{p['packages']:>8}  {g['p2n_wall_s']:>8.3f}s  {g['uv_export_wall_s']:>8.3f}s  "
            f"{g['ratio_wall']:>4.1f}x  {e['whole_command_s']:>6.2f}s  "
            f"{e['evaluator_cpu_s']:>8.3f}s"
        )
        if b:
            row += (
                f"  {b['nix_wall_s']:>7.1f}s  {b['nix_cpu_s']:>8.1f}s  "
                f"{b['uv_sync_compile_bytecode_wall_s']:>7.2f}s  {b['ratio_wall']:>4.1f}x  "
                f"{b['derivations_built']:>6}"
            )
        lines.append(row)
    return "\n".join(lines)


_MARGINAL = (
    ("generate", "p2n_wall_s"),
    ("generate", "uv_export_wall_s"),
    ("eval", "evaluator_cpu_s"),
    ("build", "nix_wall_s"),
    ("build", "nix_cpu_s"),
    ("build", "uv_sync_compile_bytecode_wall_s"),
)


def marginal(points: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Seconds per extra package between consecutive sizes: flat when growth is linear."""
    steps: list[dict[str, Any]] = []
    for low, high in pairwise(points):
        extra = high["packages"] - low["packages"]
        step: dict[str, Any] = {"from": low["packages"], "to": high["packages"]}
        for section, key in _MARGINAL:
            if low.get(section) and high.get(section):
                step[f"{section}_{key}_per_package"] = (
                    high[section][key] - low[section][key]
                ) / extra
        steps.append(step)
    return steps


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/curve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,1000", help="comma-separated package counts")
    parser.add_argument(
        "--build-max", type=int, default=100, help="cold builds only up to this many packages"
    )
    parser.add_argument("--runs", type=int, default=3, help="counted runs of generate and eval")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "curve.json")
    parser.add_argument("--svg", type=Path, default=REPO / "docs" / "scaling.svg")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    sizes = sorted({int(size) for size in args.sizes.split(",")})
    work = Path(tempfile.mkdtemp(prefix="p2n-curve-"))
    log = work / "commands.log"
    started = time.monotonic()
    print(f"bench/curve: work directory {work} (command output in {log})", file=sys.stderr)
    points: list[dict[str, Any]] = []

    def write() -> None:
        """Write what is measured so far (a 1,000-package build may outlast a session)."""
        text = table(points)
        document = {
            "schema": SCHEMA,
            "machine": machine(),
            "runs": args.runs,
            "build_max": args.build_max,
            "seconds": round(time.monotonic() - started, 1),
            "points": points,
            "seconds_per_extra_package": marginal(points),
            "table": text.splitlines(),
        }
        args.json.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        title = f"p2n cost by number of packages ({os.cpu_count()} cores, one run of bench/curve)"
        args.svg.write_text(svg_plot(title, panels(points)))

    try:
        compile_p2n()
        standin = make_standin(work / "standin")
        interpreter = eval_point(interpreter_ref(work), standin, args.runs, work, log)
        for size in sizes:
            print(f"bench/curve: generate and eval, {size} packages", file=sys.stderr, flush=True)
            generated = generate_point(work, size, args.runs, log)
            ref = f"path:{generated.pop('project')}#packages.{STANDIN_SYSTEM}.default.drvPath"
            evaluated = eval_point(ref, standin, args.runs, work, log)
            evaluated["interpreter_only_evaluator_cpu_s"] = interpreter["evaluator_cpu_s"]
            evaluated["interpreter_only_whole_command_s"] = interpreter["whole_command_s"]
            points.append({"packages": size, "generate": generated, "eval": evaluated})
        write()
        for point in points:
            if point["packages"] <= args.build_max:
                size = point["packages"]
                print(f"bench/curve: cold build, {size} packages", file=sys.stderr, flush=True)
                point["build"] = build_point(work, size, standin, log)
                write()
    finally:
        if args.keep:
            print(f"bench/curve: kept {work}", file=sys.stderr)
        else:
            remove_tree(work)
    print(table(points))
    print(f"bench/curve: wrote {args.json} and {args.svg}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
