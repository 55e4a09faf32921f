"""The corpus: ``p2n generate`` on real public projects (tests/corpus/, docs/corpus.md).

Every project's lock is made now by the real tool, pinned in time, and p2n's
outcome (``ok`` or its one-line refusal) must be the one recorded in
tests/corpus/expected.toml: a project that stops generating, or a refusal that
changes, fails here; a recorded refusal that now generates passes (a fix).
Refresh after a deliberate change with ``python -m tests.corpus.table --update``
and review the diff.

The projects run concurrently once per session (``P2N_CORPUS_JOBS``, default
6); sdists are downloaded once per session, or kept in ``P2N_CORPUS_CACHE``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.corpus.corpus import (
    Outcome,
    default_jobs,
    load_expected,
    load_projects,
    run_corpus,
)
from tests.corpus.table import BEGIN, DOC, END, render_table
from tests.helpers import run_nix

PROJECTS = load_projects()
EXPECTED = load_expected()
BUILT = [p for p in PROJECTS if p.build]


@pytest.fixture(scope="session")
def corpus_outcomes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Mapping[str, Outcome]:
    """Run every corpus project this session selected, all at once."""
    selected = {
        item.callspec.params["project_id"]
        for item in request.session.items
        if hasattr(item, "callspec") and "project_id" in item.callspec.params
    }
    cache = os.environ.get("P2N_CORPUS_CACHE")
    return run_corpus(
        [p for p in PROJECTS if p.id in selected],
        tmp_path_factory.mktemp("corpus"),
        Path(cache) if cache else tmp_path_factory.mktemp("corpus-sdists"),
        default_jobs(),
    )


@pytest.mark.corpus
@pytest.mark.parametrize("project_id", [p.id for p in PROJECTS])
def test_generate_gives_the_recorded_outcome(
    project_id: str, corpus_outcomes: Mapping[str, Outcome]
) -> None:
    outcome = corpus_outcomes[project_id]
    recorded = EXPECTED[project_id]
    # A refusal that turns into ok is a fix landing (re-record it); anything else
    # that differs (ok lost, another refusal, the lock no longer made) fails.
    fixed = outcome.result == "ok" and recorded.startswith("refused: ")
    assert outcome.result == recorded or fixed, (
        f"{project_id}: p2n generate now gives\n  {outcome.result}\nrecorded:\n  "
        f"{recorded}\n(python -m tests.corpus.table --update after a wanted change)"
    )
    if outcome.result == "ok":
        assert (outcome.project_dir / "flake.nix").is_file()
        assert (outcome.project_dir / "p2n" / "lock.nix").is_file()
    else:
        assert not (outcome.project_dir / "flake.nix").exists(), "a refusal wrote output"


@pytest.mark.nix
@pytest.mark.corpus
@pytest.mark.parametrize("project_id", [p.id for p in BUILT])
def test_environment_builds_with_nix_and_imports(
    project_id: str, corpus_outcomes: Mapping[str, Outcome], standin_override: list[str]
) -> None:
    """Small all-wheel projects: ``nix build`` (sandbox on) and import the project in it."""
    project = next(p for p in BUILT if p.id == project_id)
    outcome = corpus_outcomes[project_id]
    assert outcome.result == "ok", outcome.result
    result = run_nix(
        "build",
        f"path:{outcome.project_dir}",
        *standin_override,
        "--json",
        "-o",
        str(outcome.project_dir / "result"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    env = Path(json.loads(result.stdout)[0]["outputs"]["out"])
    name = project.sdists[0].name
    module = name.replace("-", "_")
    probe = subprocess.run(
        [
            str(env / "bin" / "python"),
            "-c",
            f"import importlib.metadata as m, {module}; print(m.version({name!r}))",
        ],
        capture_output=True,
        text=True,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == project.sdists[0].version


def test_every_project_has_a_recorded_outcome() -> None:
    assert {p.id for p in PROJECTS} == set(EXPECTED)
    assert len(PROJECTS) >= 30


def test_docs_table_matches_the_recorded_outcomes() -> None:
    text = DOC.read_text()
    table = text.partition(BEGIN)[2].partition(END)[0].strip()
    assert table == render_table(PROJECTS, EXPECTED), (
        "docs/corpus.md is out of date: python -m tests.corpus.table --update"
    )
