"""Shared pytest fixtures: Nix settings for tests, the nixpkgs stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.helpers import INDEX_FILES
from tests.support.index import LoopbackIndex, serving
from tests.support.nixenv import apply_test_nix_config
from tests.support.standin import make_standin, override_args

apply_test_nix_config()

# Every property test is reproducible and budgeted: a fixed seed (derandomize),
# no example database between runs, no per-example deadline on a shared 2-core
# machine; each test sets its own max_examples.
settings.register_profile("p2n", derandomize=True, database=None, deadline=None)
settings.load_profile("p2n")


@pytest.fixture(scope="session")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The nixpkgs stand-in flake (docs/nixpkgs-contract.md), made once per session.

    A fresh directory each session: Nix caches a ``path:`` input, so reusing a
    path across sessions could serve a stale stand-in.
    """
    return make_standin(tmp_path_factory.mktemp("nixpkgs-standin"))


@pytest.fixture(scope="session")
def standin_override(standin: Path) -> list[str]:
    """``nix`` arguments that replace a flake's ``nixpkgs`` input by the stand-in.

    Session-scoped so fixtures of any scope can use it; shared, so extend a
    copy (``[*standin_override, ...]``), never the list itself.
    """
    return override_args(standin)


@pytest.fixture
def loopback_index() -> Iterator[LoopbackIndex]:
    """A package index on 127.0.0.1 serving tests/fixtures/index/files (fresh per test)."""
    with serving(INDEX_FILES) as index:
        yield index
