"""The tag set of a wheel file name, cheaply: lock readers meet thousands of wheels.

Only the tag triple matters for selection (PEP 427:
``name-version[-build]-python-abi-platform.whl``); ``parse_wheel_filename``
also validates name and version, which costs ~5x more, and a lock repeats a
few hundred tag triples over thousands of wheels, so triples are parsed once
and every wheel with that triple shares one frozenset (selection ranks wheels
by tag set, and identical objects compare at once).
"""

from __future__ import annotations

from functools import lru_cache

from packaging.tags import Tag, parse_tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename


def wheel_tags(filename: str) -> frozenset[Tag]:
    """The tags of ``filename``; :class:`InvalidWheelFilename` (packaging's words) if malformed."""
    parts = filename[:-4].split("-") if filename.endswith(".whl") else []
    if len(parts) not in (5, 6) or not all(parts):
        parse_wheel_filename(filename)  # raises, with packaging's own explanation
        raise InvalidWheelFilename(f"Invalid wheel filename: {filename!r}")
    return _tag_triple("-".join(parts[-3:]))


_tag_triple = lru_cache(maxsize=4096)(parse_tag)
