"""The Nix systems p2n generates for, by name (the CLI's choices; no tags or markers here).

:mod:`pyproject2nix.targets` describes each one to markers and wheel tags.
"""

from __future__ import annotations

DEFAULT_SYSTEMS = ("aarch64-darwin", "aarch64-linux", "x86_64-darwin", "x86_64-linux")
"""Generated for when no ``--system`` is given (each one the lock can serve)."""

SYSTEM_NAMES = DEFAULT_SYSTEMS
"""Every system ``--system`` accepts."""
