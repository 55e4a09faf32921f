"""``p2n check``: are the generated files still what ``p2n generate`` would write?

Regenerates in memory with the settings recorded in ``p2n/lock.nix`` and
compares bytes, then says *why* they are stale (which input changed, or the
p2n version) so a pre-commit hook or CI step can point at the fix.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from . import __version__
from .buildlock import BUILD_LOCK_FILE, StaleBuildLock
from .errors import HashMismatchError, IndexQueryError, InputError
from .generate import GenerateRequest, plan
from .index import IndexClient, IndexFile
from .index.client import Files, PageRequest
from .index.versions import VersionRequest, files_of_version
from .layout import GENERATED_MARK, INPUTS_FILE, INPUTS_MARK, OUTPUT_DIR
from .lockfiles import LockDriftError, relock_command
from .output import STAGING_PREFIX
from .render import FORMAT
from .settings import SETTINGS_MARK, Settings

LOCK_DATA = f"{OUTPUT_DIR}/lock.nix"


@dataclass(frozen=True)
class Freshness:
    """The verdict of ``p2n check``: what is stale and why (both empty: fresh)."""

    stale_files: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def fresh(self) -> bool:
        """True when the generated files match the inputs exactly."""
        return not self.stale_files


@dataclass(frozen=True)
class Record:
    """What ``p2n generate`` recorded in the header of ``p2n/lock.nix``, and its text."""

    version: str
    settings: Settings
    input_digests: Mapping[str, str]
    text: str


def read_record(lock_data: Path) -> Record:
    """Version, settings and input digests recorded in the header of ``p2n/lock.nix``."""
    version = ""
    settings = Settings()
    digests: dict[str, str] = {}
    try:
        text = lock_data.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{lock_data}: cannot read ({exc}); run p2n generate") from exc
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        if line.startswith(GENERATED_MARK):
            version = (line[len(GENERATED_MARK) :].split() or [""])[0]
        try:
            if line.startswith(SETTINGS_MARK):
                settings = Settings.from_json(line[len(SETTINGS_MARK) :])
            elif line.startswith(INPUTS_MARK):
                recorded = json.loads(line[len(INPUTS_MARK) :])
                if not isinstance(recorded, dict):
                    raise ValueError("not a JSON object")
                digests = {str(k): str(v) for k, v in recorded.items()}
        except (ValueError, RecursionError) as exc:
            mark = line.split(":", 1)[0] + ":"
            raise InputError(
                f"{lock_data}: damaged header line {mark} ({exc}); run p2n generate"
            ) from exc
    inputs = lock_data.parent.parent / INPUTS_FILE  # format 2: the digests live beside it
    if inputs.is_file():
        try:
            recorded = json.loads(inputs.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise InputError(f"{inputs}: damaged ({exc}); run p2n generate") from exc
        if not isinstance(recorded, dict):
            raise InputError(f"{inputs}: damaged (not a JSON object); run p2n generate")
        digests = {str(k): str(v) for k, v in recorded.items()}
    return Record(version, settings, digests, text)


def data_format(text: str) -> int | None:
    """The ``format = N;`` of a generated ``p2n/lock.nix``'s text (None: not found)."""
    found = re.search(r"^  format = (\d+);$", text, re.MULTILINE)
    return int(found.group(1)) if found else None


def recorded_settings(lock_data: Path) -> Settings:
    """The ``p2n generate`` settings recorded in ``p2n/lock.nix`` (``p2n diff`` reads the lock)."""
    return read_record(lock_data).settings


class NotRecorded(IndexQueryError):
    """The lock names a file that ``p2n/lock.nix`` does not record: it is stale."""


_ATTRSET = re.compile(r'(?:"((?:[^"\\]|\\.)*)" = )?\{([^{}]*)\}')
"""An innermost attribute set, with its quoted attribute name if it has one (format 2)."""
_STRING_ATTR = re.compile(r'([A-Za-z0-9_-]+) = "((?:[^"\\]|\\.)*)";')
_NIX_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
_NIX_ESCAPED = {"n": "\n", "r": "\r", "t": "\t"}


def recorded_files(text: str) -> dict[str, dict[str, IndexFile]]:
    """Every file ``p2n/lock.nix`` fetches by URL, by project, then file name.

    Read from the attribute sets that hold a ``url`` (and a ``sha256`` or an
    SRI ``hash``), so it does not depend on the data format's layout.
    """
    found: dict[str, dict[str, IndexFile]] = {}
    for attrset in _ATTRSET.finditer(text):
        values = {key: _unescape(raw) for key, raw in _STRING_ATTR.findall(attrset.group(2))}
        url = values.get("url")
        if not url:
            continue
        filename = (
            values.get("name")
            or (_unescape(attrset.group(1)) if attrset.group(1) else "")
            or unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        )
        sha256 = values.get("sha256") or _sri_to_hex(values.get("hash", ""))
        project = _project_of(filename)
        if project is not None:
            found.setdefault(project, {})[filename] = IndexFile(filename, url, sha256)
    return found


def _unescape(raw: str) -> str:
    """The value of a Nix string literal's body (as ``nixexpr.string`` escapes it)."""
    return _NIX_UNESCAPE.sub(lambda m: _NIX_ESCAPED.get(m.group(1), m.group(1)), raw)


def _sri_to_hex(sri: str) -> str:
    if not sri.startswith("sha256-"):
        return ""
    try:
        return base64.b64decode(sri.removeprefix("sha256-"), validate=True).hex()
    except ValueError:
        return ""


def _project_of(filename: str) -> str | None:
    try:
        if filename.endswith(".whl"):
            return canonicalize_name(parse_wheel_filename(filename)[0])
        return canonicalize_name(parse_sdist_filename(filename)[0])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


class RecordedFiles(IndexClient):
    """Index pages made of the files ``p2n/lock.nix`` records: ``p2n check`` asks no index.

    Sound because the record also holds the lock's digest: the same lock gives
    the same files (their URLs are what the index said at generation), and a
    changed lock makes ``p2n/lock.nix`` stale whatever the index says now.
    """

    def __init__(self, text: str) -> None:
        super().__init__(offline=True)
        self.recorded = recorded_files(text)

    def version_files(
        self, wanted: Sequence[VersionRequest]
    ) -> dict[tuple[str, str, str], dict[str, IndexFile]]:
        """The recorded files of each requested version; :class:`NotRecorded` if they lack any."""
        result: dict[tuple[str, str, str], dict[str, IndexFile]] = {}
        for request in wanted:
            page = self.recorded.get(canonicalize_name(request.project), {})
            files = files_of_version(page, request)
            named = request.files.keys() if request.files is not None else ()
            if not files or not set(named) <= files.keys():
                raise NotRecorded(
                    f"{LOCK_DATA} does not record the files of {request.project} "
                    f"{request.version} the lock names"
                )
            result[request.key] = files
        return result

    def pages(self, wanted: Sequence[PageRequest]) -> dict[tuple[str, str], Files]:
        """Never a page: what the record lacks, the lock did not name at generation."""
        if wanted:
            raise NotRecorded(f"{LOCK_DATA} does not record files of {wanted[0].project}")
        return {}


def _old_generated_flake(flake: Path) -> bool:
    """A flake.nix that an older p2n owned and rewrote (``p2n generate`` replaces it)."""
    try:
        with flake.open("rb") as handle:
            return handle.readline().decode("utf-8", "replace").startswith(GENERATED_MARK)
    except OSError:
        return False


def check(project_dir: Path) -> Freshness:
    """Compare the generated files in ``project_dir`` with a fresh generation."""
    lock_data = project_dir / LOCK_DATA
    leftovers = sorted(p.name for p in project_dir.glob(STAGING_PREFIX + "*"))
    if leftovers:
        # Inside the flake's tree: its source (and hash) differs until cleaned up.
        return Freshness(
            tuple(leftovers), (f"an interrupted p2n generate left {', '.join(leftovers)}",)
        )
    if not lock_data.is_file():
        return Freshness((LOCK_DATA,), ("not generated yet: run p2n generate",))
    record = read_record(lock_data)
    found = data_format(record.text)
    if found is not None and found != FORMAT:
        # Older data the library no longer reads (format 1 listed every package per system).
        return Freshness(
            (LOCK_DATA,),
            (
                f"{LOCK_DATA} is data format {found}, this p2n reads format {FORMAT}; "
                "run `p2n generate` to regenerate",
            ),
        )
    request = GenerateRequest(
        project_dir=project_dir, settings=record.settings, online=False, recorded=True
    )
    try:
        expected = plan(request, RecordedFiles(record.text)).files
    except StaleBuildLock as exc:
        return Freshness((f"{OUTPUT_DIR}/{BUILD_LOCK_FILE}",), (str(exc),))
    except (IndexQueryError, HashMismatchError) as exc:
        # RecordedFiles asks no index: its errors say p2n/lock.nix does not record the
        # files as the lock names them, so the lock changed (its digest says so).
        reasons = _input_changes(project_dir, record) or [str(exc)]
        return Freshness((LOCK_DATA,), tuple(reasons))
    except LockDriftError as exc:
        # The generated files may match the lock, but the lock no longer matches
        # what the project declares: the environment lacks what was added.
        name = exc.lock_path.name
        return Freshness(
            (name,),
            (
                f"{name} does not match pyproject.toml: {'; '.join(exc.drift)}; "
                f"run `{relock_command(exc.lock_path)}`, then `p2n generate`",
            ),
        )
    # flake.nix is the user's once written (generate keeps it), unless an older p2n owned it.
    if not _old_generated_flake(project_dir / "flake.nix"):
        expected = {rel: content for rel, content in expected.items() if rel != "flake.nix"}
    stale = sorted(
        rel
        for rel, content in expected.items()
        if not (project_dir / rel).is_file() or (project_dir / rel).read_bytes() != content
    )
    extra = sorted(
        path.relative_to(project_dir).as_posix()
        for path in (project_dir / OUTPUT_DIR).rglob("*")
        if path.is_file() and path.relative_to(project_dir).as_posix() not in expected
    )
    stale += extra
    reasons = _input_changes(project_dir, record)
    if record.version != __version__:
        reasons.append(f"generated by p2n {record.version or '?'}, this is p2n {__version__}")
    if stale and not reasons:
        reasons.append("generated files were edited by hand")
    if extra:
        reasons.append(f"files p2n no longer writes: {', '.join(extra)}")
    return Freshness(tuple(stale), tuple(reasons) if stale else ())


def _input_changes(project_dir: Path, record: Record) -> list[str]:
    """The inputs whose content differs from what was recorded."""
    reasons = []
    for name, digest in sorted(record.input_digests.items()):
        path = project_dir / name
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            reasons.append(f"{name} changed since generation")
    return reasons
