"""Refresh the corpus table: ``python -m tests.corpus.table [--update] [ID ...]``.

Runs the corpus (the same code as ``pytest -m corpus``), prints one line per
project, and with ``--update`` writes the outcomes to tests/corpus/expected.toml
(what the test asserts) and the table in docs/corpus.md (between the markers).
``--docs-only`` rewrites the table from expected.toml without running anything.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from tests.corpus.corpus import (
    EXPECTED_FILE,
    REPO,
    Outcome,
    Project,
    default_jobs,
    load_expected,
    load_projects,
    run_corpus,
)

DOC = REPO / "docs" / "corpus.md"
BEGIN = "<!-- corpus table: begin (python -m tests.corpus.table --update) -->"
END = "<!-- corpus table: end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_table(projects: list[Project], outcomes: Mapping[str, str]) -> str:
    """The markdown table: project, sdists, lock tool, what it covers, outcome."""
    rows = [
        "| project | sdist(s) on PyPI | lock made by | covers | outcome |",
        "| --- | --- | --- | --- | --- |",
    ]
    tools = {
        "uv": "uv lock --exclude-newer",
        "poetry1": "Poetry 1.8.5 (PyPI as of the date)",
        "poetry2": "Poetry 2.5.1 (PyPI as of the date)",
        "shipped": "the sdist's own lock",
        "committed": "committed lock",
    }
    for project in projects:
        outcome = outcomes[project.id]
        sdists = ", ".join(f"{s.name} {s.version}" for s in project.sdists)
        result = outcome if outcome == "ok" else f"`{outcome}`"
        rows.append(
            f"| {project.id} | {sdists} | {tools[project.tool]} | {_cell(project.why)} "
            f"| {_cell(result)} |"
        )
    return "\n".join(rows)


def write_expected(outcomes: Mapping[str, Outcome], merge: bool) -> None:
    """expected.toml: one string per project id."""
    recorded = load_expected() if merge else {}
    recorded.update({pid: o.result for pid, o in outcomes.items()})
    lines = [
        "# What `p2n generate` gave on each corpus project; the corpus test asserts it.",
        "# Refresh: python -m tests.corpus.table --update (then review the diff).",
        "",
        "[outcome]",
    ]
    lines.extend(f"{json.dumps(pid)} = {json.dumps(recorded[pid])}" for pid in sorted(recorded))
    EXPECTED_FILE.write_text("\n".join(lines) + "\n")


def write_doc(table: str) -> None:
    text = DOC.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    DOC.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")


def _print_outcome(o: Outcome) -> None:
    print(
        f"{o.project:28} lock {o.lock_seconds:5.1f}s generate {o.generate_seconds:5.1f}s  "
        f"{o.result}",
        flush=True,
    )
    for warning in o.warnings:
        print(f"{'':28} {warning}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("ids", nargs="*", help="only these projects (default: all)")
    parser.add_argument("--update", action="store_true", help="write expected.toml and docs")
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument(
        "--docs-only", action="store_true", help="rewrite the docs table from expected.toml"
    )
    args = parser.parse_args()
    projects = load_projects()
    if args.docs_only:
        write_doc(render_table(projects, load_expected()))
        return
    chosen = [p for p in projects if not args.ids or p.id in args.ids]
    cached = os.environ.get("P2N_CORPUS_CACHE")
    cache = Path(cached) if cached else Path(tempfile.mkdtemp(prefix="p2n-corpus-sdists-"))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="p2n-corpus-") as work:
        outcomes = run_corpus(chosen, Path(work), cache, args.jobs, on_done=_print_outcome)
    print(
        f"{len(chosen)} projects in {time.monotonic() - started:.0f} s "
        f"({sum(o.result == 'ok' for o in outcomes.values())} ok)",
        file=sys.stderr,
    )
    if args.update:
        write_expected(outcomes, merge=bool(args.ids))
        if not args.ids:
            write_doc(render_table(projects, {pid: o.result for pid, o in outcomes.items()}))


if __name__ == "__main__":
    main()
