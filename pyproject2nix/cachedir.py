"""p2n's cache directory and its entries: written atomically, the oldest pruned.

Shared by the TOML parse cache (tomlfile.py), the generate cache (memo.py) and
the index pages (index/client.py). Light on purpose: generate's warm path
imports it.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/p2n``, else ``~/.cache/p2n``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "p2n"


def write_entry(entry: Path, blob: bytes, keep: int) -> None:
    """Write ``entry`` atomically (temporary file + rename), keep its folder's newest ``keep``.

    Raises OSError: callers skip a cache that cannot be written.
    """
    entry.parent.mkdir(parents=True, exist_ok=True)
    temporary = entry.with_name(f".{entry.name}.{os.getpid()}")
    temporary.write_bytes(blob)
    os.replace(temporary, entry)
    entries = sorted(
        entry.parent.glob(f"*{entry.suffix}"), key=lambda path: path.stat().st_mtime_ns
    )
    for old in entries[:-keep]:
        old.unlink(missing_ok=True)
