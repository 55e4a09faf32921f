"""Asking package indexes where locked files live (PEP 503 / PEP 691 simple API).

Some locks (poetry.lock) name each file and its hash but not its URL. After
selection has chosen the files a flake needs, this package asks each file's
index for its URL and checks the index's sha256 against the lock's. It never
reads lock files itself: it works on the model and on selections.

- ``simple``: parsing simple-API pages (JSON and HTML) into :class:`IndexFile`.
- ``client``: fetching pages concurrently, with retries and a disk cache.
- ``resolve``: filling in the chosen files' URLs (and, if trusted, hashes).
"""

from ..cachedir import default_cache_dir
from .client import IndexClient
from .resolve import Resolution, fill_missing_files, resolve_urls
from .simple import IndexFile

__all__ = [
    "IndexClient",
    "IndexFile",
    "Resolution",
    "default_cache_dir",
    "fill_missing_files",
    "resolve_urls",
]
