"""``python -m pyproject2nix`` runs the p2n CLI."""

from .cli import main

main()
