"""Reading TOML files with errors that name the file and the key path.

Every parser reads through :class:`TomlTable`, so a missing or mistyped key
in any lock format explains itself: ``uv.lock: package[12].wheels[0].hash:
expected a string, got an integer``.
"""

from __future__ import annotations

try:  # tomli ships mypyc-compiled wheels: ~3x faster than the stdlib on large locks
    import tomli as tomllib
except ImportError:  # pragma: no cover - pure stdlib fallback
    import tomllib  # type: ignore[no-redef]
import marshal
import re
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from . import fsread
from .cachedir import default_cache_dir, write_entry
from .errors import InputError


def load_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a syntax error or unreadable file becomes an InputError."""
    try:
        data = fsread.read_bytes(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    if data.startswith(b"\xef\xbb\xbf"):
        raise InputError(
            f"{path}: starts with a UTF-8 byte order mark (BOM), which TOML does not allow; "
            "save the file as UTF-8 without BOM"
        )
    if len(data) < _CACHED_SIZE:
        # One parse per content and run: pyproject.toml is read by the project reader,
        # the overrides, the drift check and the build planning.
        parsed = _parsed_small.get(data)
        if parsed is None:
            parsed = _parsed_small[data] = _parse_bytes(path, data)
        return parsed
    cache = _cache_file(data)
    cached = _read_cached(cache)
    if cached is not None:
        return cached
    parsed = _parse_bytes(path, data)
    _write_cached(cache, parsed)
    return parsed


_parsed_small: dict[bytes, dict[str, Any]] = {}
"""Small files parsed in this process, by content. Callers only read what they get."""


def _parse_bytes(path: Path, data: bytes) -> dict[str, Any]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason}); is this a lock file?") from exc
    return parse_toml(text, str(path), "regenerate the file with the tool that wrote it")


# Parsing a 1.7 MB uv.lock costs ~6x what all of `uv export` does (instruction
# counts), and a lock rarely changes between two runs of generate or check: big
# files are parsed once per content. The cache maps the file's sha256 (plus
# parser and Python versions) to the parsed tables in marshal format, which
# holds plain data only (dicts, lists, strings, numbers; a file with TOML
# dates is not cached) and loads ~20x faster than the parse. Only the parse is
# cached: readers check every value on every run, so errors are unchanged.
_CACHED_SIZE = 64 * 1024
_CACHE_KEEP = 32
_PARSER = f"{tomllib.__name__}{getattr(tomllib, '__version__', '')}"


def _cache_file(data: bytes) -> Path:
    digest = fsread.digest(data)
    python = f"py{sys.version_info[0]}{sys.version_info[1]}"
    return default_cache_dir() / "toml" / f"{digest}-{_PARSER}-{python}.marshal"


def _read_cached(cache: Path) -> dict[str, Any] | None:
    try:
        value = marshal.loads(cache.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def _write_cached(cache: Path, parsed: dict[str, Any]) -> None:
    """Write atomically (temporary file + rename); a cache that cannot be written is skipped."""
    try:
        blob = marshal.dumps(parsed)
    except ValueError:  # TOML dates and times: not plain data
        return
    try:
        write_entry(cache, blob, _CACHE_KEEP)
    except OSError:
        return


def parse_toml(text: str, where: str, fix: str) -> dict[str, Any]:
    """Parse TOML text; errors name ``where:line:column``, the message and the offending line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(syntax_error(exc, text, where, fix)) from exc
    except RecursionError as exc:
        raise InputError(f"{where}: malformed TOML: nested too deeply; {fix}") from exc


_POSITION = re.compile(r"\s*\((?:at line (\d+), column (\d+)|at end of document)\)$")


def syntax_error(exc: ValueError, text: str, where: str, fix: str) -> str:
    """One line like uv's: ``file:LINE:COL: malformed TOML: <why>: <the line>; <fix>``.

    tomli >= 2.1 gives the position as attributes; the stdlib's tomllib of
    Python 3.11 only in the message, which is parsed instead.
    """
    message = str(exc)
    found = _POSITION.search(message)
    reason = message[: found.start()] if found else message
    lines = text.splitlines() or [""]
    if found and found.group(1):
        line, column = int(found.group(1)), int(found.group(2))
    else:  # "at end of document"
        line, column = len(lines), len(lines[-1]) + 1
    line = min(max(line, 1), len(lines))
    snippet = lines[line - 1]
    if len(snippet) > 80:
        start = max(0, min(column - 40, len(snippet) - 80))
        snippet = ("…" if start else "") + snippet[start : start + 80] + "…"
    return f"{where}:{line}:{column}: malformed TOML: {reason}: {snippet!r}; {fix}"


SHA256_HEX = re.compile(r"[0-9a-f]{64}")
"""A sha256 digest in lower-case hex."""

_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    bool: "a boolean",
    float: "a number",
    list: "an array",
    dict: "a table",
}


def _type_name(value: object) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class TomlTable:
    """A TOML table that knows which file and key path it came from."""

    file: Path
    keypath: str
    data: dict[str, Any]

    def where(self, key: str | None = None) -> str:
        """``file: key.path`` for messages."""
        if key is None:
            return f"{self.file}: {self.keypath or '(top level)'}"
        return f"{self.file}: {self.keypath + '.' if self.keypath else ''}{key}"

    def error(self, key: str | None, problem: str) -> InputError:
        """An InputError located at ``key`` of this table."""
        return InputError(f"{self.where(key)}: {problem}")

    def _typed(self, key: str, kind: type, required: bool) -> Any:
        if key not in self.data:
            if required:
                raise self.error(key, "missing")
            return None
        value = self.data[key]
        # bool is a subclass of int; a TOML boolean is never a valid integer here.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.error(key, f"expected {_TYPE_NAMES[kind]}, got {_type_name(value)}")
        return value

    def string(self, key: str) -> str:
        """A required string."""
        value: str = self._typed(key, str, True)
        return value

    def opt_string(self, key: str) -> str | None:
        """An optional string."""
        value: str | None = self._typed(key, str, False)
        return value

    def opt_integer(self, key: str) -> int | None:
        """An optional integer."""
        value: int | None = self._typed(key, int, False)
        return value

    def integer(self, key: str) -> int:
        """A required integer."""
        value: int = self._typed(key, int, True)
        return value

    def sha256(self, key: str = "hash") -> str:
        """A ``sha256:<hex>`` digest as lower-case hex; "" when absent or another algorithm.

        Lock formats keep files without a usable hash (md5-only, none); selecting
        such a file later fails with a message that names the fix.
        """
        text = self.opt_string(key)
        if not text:
            return ""
        algorithm, sep, digest = text.partition(":")
        if not sep or not digest:
            raise self.error(key, f"expected 'sha256:<hex>', got {text!r}")
        if algorithm != "sha256":
            return ""
        digest = digest.lower()
        if not SHA256_HEX.fullmatch(digest):
            raise self.error(key, f"not a sha256 hex digest: {digest!r}")
        return digest

    def opt_subdirectory(self, key: str = "subdirectory") -> str | None:
        """A path inside an archive: relative, no ``..`` (it reaches Nix and a build)."""
        text = self.opt_string(key)
        if not text:
            return None
        path = PurePosixPath(text)
        if path.is_absolute() or ".." in path.parts or text.startswith("-"):
            raise self.error(key, f"must be a relative path inside the archive, got {text!r}")
        return "/".join(path.parts)

    def opt_table(self, key: str) -> TomlTable | None:
        """An optional sub-table."""
        value: dict[str, Any] | None = self._typed(key, dict, False)
        if value is None:
            return None
        return TomlTable(self.file, self._child(key), value)

    def tables(self, key: str) -> list[TomlTable]:
        """An optional array of tables ([] when absent)."""
        values: list[Any] | None = self._typed(key, list, False)
        if values is None:
            return []
        result = []
        for index, item in enumerate(values):
            path = f"{self._child(key)}[{index}]"
            if not isinstance(item, dict):
                raise InputError(f"{self.file}: {path}: expected a table, got {_type_name(item)}")
            result.append(TomlTable(self.file, path, item))
        return result

    def strings(self, key: str) -> list[str]:
        """An optional array of strings ([] when absent)."""
        values: list[Any] | None = self._typed(key, list, False)
        if values is None:
            return []
        for index, item in enumerate(values):
            if not isinstance(item, str):
                raise InputError(
                    f"{self.file}: {self._child(key)}[{index}]: "
                    f"expected a string, got {_type_name(item)}"
                )
        return list(values)

    def names(self) -> list[str]:
        """The table's keys in file order."""
        return list(self.data)

    def _child(self, key: str) -> str:
        return f"{self.keypath}.{key}" if self.keypath else key
