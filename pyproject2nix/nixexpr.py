"""Writing Nix values as source text.

Every string that reaches generated Nix code passes through :func:`string`:
backslashes, quotes, ``${`` (interpolation), newlines, carriage returns and
tabs are escaped, so a hostile package name or URL stays a plain string.
Nix has no escape for other control characters (NUL even truncates a string
in Nix 2.8) and bidirectional overrides hide code from a reviewer: a string
holding one is refused, never written raw.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Union

from .errors import InputError

NixValue = Union[str, bool, int, None, "Sequence[NixValue]", "Mapping[str, NixValue]", "Raw"]

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "$": "\\$"}
_SIMPLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_'-]*")
_KEYWORDS = {"if", "then", "else", "assert", "with", "let", "in", "rec", "inherit", "or"}


class Raw(str):
    """Nix source that is inserted verbatim (only for text p2n itself wrote)."""


_NEEDS_ESCAPE = re.compile(r'[\\"\n\r\t]|\$\{')


_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@lru_cache(maxsize=65536)  # lock.nix repeats names, URLs and hashes once per system
def string(value: str) -> str:
    """A Nix double-quoted string literal denoting exactly ``value``."""
    unwritable = _UNWRITABLE.search(value)
    if unwritable:
        raise InputError(
            f"{value!r}: holds the control character U+{ord(unwritable.group()):04X}, which "
            "Nix files cannot hold safely; fix the input (lock, pyproject.toml) that has it"
        )
    # "$" is escaped only before "{": "\$" elsewhere would also be correct Nix
    # but noisier to review.
    return '"' + _NEEDS_ESCAPE.sub(lambda m: _ESCAPES[m.group()[0]] + m.group()[1:], value) + '"'


def comment(text: str) -> str:
    """Text for one ``#`` comment line: printable ASCII only, everything else as ``\\u{…}``.

    A newline would end the comment and make the rest Nix code; other control
    characters (ESC, BEL, DEL) would be written raw into files meant for review.
    """
    return "".join(c if " " <= c <= "~" else f"\\u{{{ord(c):x}}}" for c in text)


def attr_name(name: str) -> str:
    """An attribute name: bare when that is unambiguous, else quoted."""
    if _SIMPLE_NAME.fullmatch(name) and name not in _KEYWORDS:
        return name
    return string(name)


def render(value: NixValue, indent: int = 0) -> str:
    """Pretty-print a value: one attribute per line, lists of scalars on one line."""
    pad = "  " * indent
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, str):
        return string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        if not value:
            return "{ }"
        lines = [f"{pad}  {attr_name(key)} = {render(value[key], indent + 1)};" for key in value]
        return "{\n" + "\n".join(lines) + f"\n{pad}}}"
    items = list(value)
    if not items:
        return "[ ]"
    if all(not isinstance(item, (Mapping, list, tuple)) for item in items):
        return "[ " + " ".join(render(item) for item in items) + " ]"
    lines = [f"{pad}  {render(item, indent + 1)}" for item in items]
    return "[\n" + "\n".join(lines) + f"\n{pad}]"
