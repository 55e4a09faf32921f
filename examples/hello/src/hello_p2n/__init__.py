"""Example project for pyproject2nix."""
