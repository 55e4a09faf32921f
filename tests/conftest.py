"""Shared pytest fixtures: Nix settings for tests."""

from __future__ import annotations

from tests.support.nixenv import apply_test_nix_config

apply_test_nix_config()
