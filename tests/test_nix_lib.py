"""Pure functions of the Nix library, evaluated by real Nix (tests/nix/*.nix)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.nix

NIX_TESTS = Path(__file__).resolve().parent / "nix"


@pytest.mark.parametrize("case", sorted(p.name for p in NIX_TESTS.glob("test_*.nix")))
def test_nix_unit_cases_pass(case: str) -> None:
    """Each file evaluates to the list of its failing cases: it must be empty."""
    result = subprocess.run(
        ["nix-instantiate", "--eval", "--strict", str(NIX_TESTS / case)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[ ]", f"failing cases: {result.stdout.strip()}"
