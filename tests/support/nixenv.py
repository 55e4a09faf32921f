"""Nix settings every test that runs Nix uses (see ../shared/nix-here.md).

``substituters =`` stops retries against the unreachable binary cache,
``flake-registry =`` stops flake commands from fetching the registry from
GitHub, ``sandbox = true`` makes builds as hermetic as a user's.
"""

from __future__ import annotations

import os
import shutil

TEST_NIX_CONFIG = "\n".join(
    [
        "experimental-features = nix-command flakes",
        "substituters =",
        "flake-registry =",
        "sandbox = true",
    ]
)


def apply_test_nix_config() -> None:
    """Put the test settings into this process's environment (inherited by p2n and nix)."""
    os.environ["NIX_CONFIG"] = TEST_NIX_CONFIG


def require_nix() -> str:
    """Path of ``nix``; fail (never skip) when it is missing: CI must install it."""
    path = shutil.which("nix")
    if path is None:
        raise RuntimeError("nix is not installed: run scripts/setup.sh (apt-get install nix-bin)")
    return path
