"""Say which files of two copies of one output differ, and why.

Our own minimal diff needs nothing installed: the file list, the first
differing bytes of binaries, a unified diff of text files and, for ``.pyc``
files, whether the header (source mtime/size or hash) or the marshalled body
differs. When diffoscope is installed, :func:`run_diffoscope` adds its report.
"""

from __future__ import annotations

import difflib
import os
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .model import FileDifference

PYC_HEADER_SIZE = 16
TEXT_DIFF_LINES = 20
HEX_WINDOW = 16
DIFFOSCOPE_TIMEOUT_SECONDS = 300
DIFFOSCOPE_MAX_BYTES = 64 * 1024
DIFFOSCOPE_MAX_HTML_BYTES = 2 * 1024 * 1024  # per output, embedded in the --html page


@dataclass(frozen=True)
class Entry:
    """What one path of an output tree is (contents are read only when needed)."""

    kind: str  # "file", "directory", "symlink"
    executable: bool = False
    target: str = ""


def tree_entries(root: Path) -> dict[str, Entry]:
    """Every path below ``root`` ("" for ``root`` itself), without following symlinks."""
    entries: dict[str, Entry] = {}

    def visit(path: Path, relative: str) -> None:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            entries[relative] = Entry("symlink", target=os.readlink(path))
        elif stat.S_ISDIR(info.st_mode):
            entries[relative] = Entry("directory")
            for child in sorted(os.listdir(path)):
                visit(path / child, f"{relative}/{child}" if relative else child)
        else:
            entries[relative] = Entry("file", executable=bool(info.st_mode & stat.S_IXUSR))

    visit(root, "")
    return entries


def compare_trees(
    root_a: Path, root_b: Path, *, output: str = "out", limit: int = 50
) -> tuple[list[FileDifference], int]:
    """The differences between two copies of an output: up to ``limit``, and how many more."""
    entries_a = tree_entries(root_a)
    entries_b = tree_entries(root_b)
    differences: list[FileDifference] = []
    for relative in sorted(set(entries_a) | set(entries_b)):
        entry_a = entries_a.get(relative)
        entry_b = entries_b.get(relative)
        difference = _compare_entry(root_a, root_b, relative, entry_a, entry_b, output)
        if difference is not None:
            differences.append(difference)
    return differences[:limit], max(0, len(differences) - limit)


def _join(root: Path, relative: str) -> Path:
    return root / relative if relative else root


def _compare_entry(
    root_a: Path,
    root_b: Path,
    relative: str,
    entry_a: Entry | None,
    entry_b: Entry | None,
    output: str,
) -> FileDifference | None:
    if entry_a is None or entry_b is None:
        present = entry_a or entry_b
        assert present is not None
        side = "a" if entry_a is not None else "b"
        return FileDifference(
            output, relative, f"only-in-{side}", present.kind, f"only in build {side.upper()}"
        )
    if entry_a.kind != entry_b.kind:
        return FileDifference(
            output, relative, "type", entry_a.kind, f"A: {entry_a.kind}, B: {entry_b.kind}"
        )
    if entry_a.kind == "symlink":
        if entry_a.target == entry_b.target:
            return None
        return FileDifference(
            output,
            relative,
            "symlink-target",
            "symlink",
            f"A -> {entry_a.target}\nB -> {entry_b.target}",
        )
    if entry_a.kind == "directory":
        return None
    contents_a = _join(root_a, relative).read_bytes()
    contents_b = _join(root_b, relative).read_bytes()
    if contents_a != contents_b:
        kind, detail = explain_contents(relative, contents_a, contents_b)
        return FileDifference(output, relative, "contents", kind, detail)
    if entry_a.executable != entry_b.executable:
        return FileDifference(
            output,
            relative,
            "mode",
            "file",
            f"executable in A: {entry_a.executable}, in B: {entry_b.executable}",
        )
    return None


def explain_contents(relative: str, contents_a: bytes, contents_b: bytes) -> tuple[str, str]:
    """Classify two different contents of one file and say where they differ."""
    if relative.endswith(".pyc") and min(len(contents_a), len(contents_b)) >= PYC_HEADER_SIZE:
        return "pyc", explain_pyc(contents_a, contents_b)
    text_a = _as_text(contents_a)
    text_b = _as_text(contents_b)
    if text_a is not None and text_b is not None:
        return "text", text_diff(text_a, text_b)
    return "binary", first_differing_bytes(contents_a, contents_b)


def _as_text(contents: bytes) -> str | None:
    if b"\0" in contents:
        return None
    try:
        return contents.decode("utf-8")
    except UnicodeDecodeError:
        return None


def text_diff(text_a: str, text_b: str, *, max_lines: int = TEXT_DIFF_LINES) -> str:
    """A unified diff (A → B), cut to ``max_lines`` lines."""
    lines = list(
        difflib.unified_diff(
            text_a.splitlines(), text_b.splitlines(), fromfile="A", tofile="B", lineterm="", n=1
        )
    )
    if len(lines) > max_lines:
        lines = [*lines[:max_lines], f"… {len(lines) - max_lines} more diff lines"]
    return "\n".join(lines)


def first_differing_bytes(contents_a: bytes, contents_b: bytes) -> str:
    """Sizes, the first differing offset and the bytes around it, in hex."""
    offset = next(
        (index for index, (x, y) in enumerate(zip(contents_a, contents_b, strict=False)) if x != y),
        min(len(contents_a), len(contents_b)),
    )
    start = offset - offset % HEX_WINDOW
    window_a = contents_a[start : start + HEX_WINDOW]
    window_b = contents_b[start : start + HEX_WINDOW]
    size = (
        f"size {len(contents_a)} bytes"
        if len(contents_a) == len(contents_b)
        else f"size A {len(contents_a)} bytes, B {len(contents_b)} bytes"
    )
    return (
        f"{size}; first difference at byte {offset} (0x{offset:x})\n"
        f"A {start:08x}: {window_a.hex(' ')}\n"
        f"B {start:08x}: {window_b.hex(' ')}"
    )


def explain_pyc(contents_a: bytes, contents_b: bytes) -> str:
    """Which part of two ``.pyc`` files differs: header fields (PEP 552) or the code body."""
    header_a = contents_a[:PYC_HEADER_SIZE]
    header_b = contents_b[:PYC_HEADER_SIZE]
    parts: list[str] = []
    if header_a != header_b:
        parts.append("header differs: " + "; ".join(_pyc_header_fields(header_a, header_b)))
    body_a = contents_a[PYC_HEADER_SIZE:]
    body_b = contents_b[PYC_HEADER_SIZE:]
    if body_a != body_b:
        parts.append("body (marshalled code) differs: " + first_differing_bytes(body_a, body_b))
    else:
        parts.append("body (marshalled code) identical")
    return "\n".join(parts)


def _pyc_header_fields(header_a: bytes, header_b: bytes) -> list[str]:
    fields: list[str] = []
    if header_a[:4] != header_b[:4]:
        fields.append(f"magic A {header_a[:4].hex()} B {header_b[:4].hex()} (different Python)")
    flags_a = int.from_bytes(header_a[4:8], "little")
    flags_b = int.from_bytes(header_b[4:8], "little")
    if flags_a != flags_b:
        fields.append(f"flags A {flags_a} B {flags_b} (timestamp- vs hash-based)")
    elif flags_a & 1:
        fields.append(f"source hash A {header_a[8:16].hex()} B {header_b[8:16].hex()}")
    else:
        mtime_a = int.from_bytes(header_a[8:12], "little")
        mtime_b = int.from_bytes(header_b[8:12], "little")
        size_a = int.from_bytes(header_a[12:16], "little")
        size_b = int.from_bytes(header_b[12:16], "little")
        if mtime_a != mtime_b:
            fields.append(
                f"source mtime A {mtime_a} B {mtime_b} (timestamp-based pyc: "
                "set SOURCE_DATE_EPOCH to get hash-based pycs)"
            )
        if size_a != size_b:
            fields.append(f"source size A {size_a} B {size_b}")
    return fields or ["bytes differ"]


def diffoscope_path() -> str | None:
    """diffoscope's path when it is installed (Debian: apt-get install diffoscope-minimal)."""
    return shutil.which("diffoscope")


@dataclass(frozen=True)
class DiffoscopeReport:
    """diffoscope's account of two copies of an output: text, and HTML for --html."""

    text: str
    html: str | None  # a whole page, inline styles only; None when too big or missing


def run_diffoscope(root_a: Path, root_b: Path) -> DiffoscopeReport | None:
    """diffoscope's text and HTML reports for two copies of an output (paths shown as A, B).

    One diffoscope run writes both. None when diffoscope is missing, crashed
    or timed out: the minimal diff stands on its own.
    """
    program = diffoscope_path()
    if program is None:
        return None
    with tempfile.TemporaryDirectory(prefix="p2n-diffoscope-") as scratch:
        html_file = Path(scratch) / "report.html"
        argv = [
            program,
            "--text",
            "-",
            "--text-color",
            "never",
            "--html",
            str(html_file),
            "--exclude-directory-metadata",
            "yes",
            "--max-text-report-size",
            str(DIFFOSCOPE_MAX_BYTES),
            "--max-report-size",
            str(DIFFOSCOPE_MAX_HTML_BYTES),
            "--",  # the roots are operands, never options
            str(root_a),
            str(root_b),
        ]
        try:
            proc = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=DIFFOSCOPE_TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if proc.returncode not in (0, 1):
            return None
        html = None
        if html_file.is_file() and html_file.stat().st_size <= DIFFOSCOPE_MAX_HTML_BYTES:
            html = _as_a_and_b(html_file.read_text(errors="replace"), root_a, root_b)
    lines = _as_a_and_b(proc.stdout, root_a, root_b).splitlines()
    if lines[:2] == ["--- A", "+++ B"]:
        lines = lines[2:]  # the two roots themselves: noise above the per-file diffs
    text = "\n".join(lines).strip()
    return DiffoscopeReport(text, html) if text else None


def _as_a_and_b(report: str, root_a: Path, root_b: Path) -> str:
    """Replace the temporary roots (work-dir or store paths) by ``A`` and ``B``."""
    return report.replace(str(root_a), "A").replace(str(root_b), "B")
