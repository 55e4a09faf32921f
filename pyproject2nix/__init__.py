"""pyproject2nix: static, hash-pinned Nix flakes from Python lock files."""

__version__ = "0.1.0"
