"""p2n verify's own minimal diff (no Nix, no diffoscope needed) and the diffoscope wrapper."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from pyproject2nix.verify.diff import (
    compare_trees,
    explain_contents,
    explain_pyc,
    first_differing_bytes,
    run_diffoscope,
    text_diff,
)

MAGIC = bytes.fromhex("a70d0d0a")  # CPython 3.11


def _pyc(flags: int, field_a: int, field_b: int, body: bytes) -> bytes:
    return (
        MAGIC
        + flags.to_bytes(4, "little")
        + field_a.to_bytes(4, "little")
        + field_b.to_bytes(4, "little")
        + body
    )


def _tree(root: Path, files: dict[str, bytes | str]) -> Path:
    for relative, contents in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(contents, str) and contents.startswith("->"):
            os.symlink(contents[2:], path)
        elif isinstance(contents, str):
            path.write_text(contents)
        else:
            path.write_bytes(contents)
    return root


def test_identical_trees_have_no_difference(tmp_path: Path) -> None:
    files: dict[str, bytes | str] = {"bin/tool": b"\x7fELF", "share/doc.txt": "hello\n", "l": "->x"}
    a = _tree(tmp_path / "a", files)
    b = _tree(tmp_path / "b", files)
    assert compare_trees(a, b) == ([], 0)


def test_text_file_gets_a_unified_diff(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a", {"stamp.txt": "built at 1700000000\nsame\n"})
    b = _tree(tmp_path / "b", {"stamp.txt": "built at 1700000001\nsame\n"})
    differences, more = compare_trees(a, b)
    assert more == 0
    [difference] = differences
    assert (difference.path, difference.change, difference.kind) == (
        "stamp.txt",
        "contents",
        "text",
    )
    assert "-built at 1700000000" in difference.detail
    assert "+built at 1700000001" in difference.detail


def test_binary_file_shows_first_differing_bytes() -> None:
    detail = first_differing_bytes(bytes(20) + b"\x01", bytes(20) + b"\x02")
    assert "first difference at byte 20 (0x14)" in detail
    assert "A 00000010: 00 00 00 00 01" in detail
    assert "B 00000010: 00 00 00 00 02" in detail


def test_binary_file_of_other_size_says_both_sizes() -> None:
    kind, detail = explain_contents("lib.so", b"\0abc", b"\0abcd")
    assert kind == "binary"
    assert "size A 4 bytes, B 5 bytes" in detail
    assert "first difference at byte 4" in detail


def test_timestamp_pyc_names_the_source_mtime_and_the_fix() -> None:
    body = b"\xe3" + bytes(30)
    detail = explain_pyc(_pyc(0, 1700000000, 120, body), _pyc(0, 1700000002, 120, body))
    assert "source mtime A 1700000000 B 1700000002" in detail
    assert "SOURCE_DATE_EPOCH" in detail
    assert "body (marshalled code) identical" in detail


def test_pyc_body_difference_is_told_apart_from_the_header() -> None:
    header_only = _pyc(1, 11, 22, b"\xe3code-one")
    detail = explain_pyc(header_only, _pyc(1, 11, 22, b"\xe3code-two"))
    assert "header differs" not in detail
    assert "body (marshalled code) differs" in detail
    kind, _ = explain_contents(
        "pkg/__pycache__/m.cpython-311.pyc", header_only, _pyc(1, 11, 23, b"\xe3code-one")
    )
    assert kind == "pyc"
    assert "source hash" in explain_pyc(header_only, _pyc(1, 11, 23, b"\xe3code-one"))


def test_pyc_flags_difference_says_timestamp_versus_hash() -> None:
    detail = explain_pyc(_pyc(0, 1, 2, b"x"), _pyc(1, 1, 2, b"x"))
    assert "flags A 0 B 1" in detail


def test_files_only_on_one_side_symlinks_modes_and_types(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a", {"gone": "x", "link": "->one", "kind": "file", "run.sh": "echo\n"})
    b = _tree(
        tmp_path / "b", {"new": "x", "link": "->two", "kind/inner": "dir now", "run.sh": "echo\n"}
    )
    (b / "run.sh").chmod(0o755)
    differences, _ = compare_trees(a, b)
    changes = {d.path: (d.change, d.kind) for d in differences}
    assert changes == {
        "gone": ("only-in-a", "file"),
        "new": ("only-in-b", "file"),
        "link": ("symlink-target", "symlink"),
        "kind": ("type", "file"),
        "kind/inner": ("only-in-b", "file"),
        "run.sh": ("mode", "file"),
    }
    link = next(d for d in differences if d.path == "link")
    assert "A -> one" in link.detail and "B -> two" in link.detail


def test_an_output_that_is_a_single_file(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("one\n")
    (tmp_path / "b").write_text("two\n")
    [difference], _ = compare_trees(tmp_path / "a", tmp_path / "b", output="dev")
    assert (difference.output, difference.path, difference.display_path) == ("dev", "", ".")


def test_long_lists_are_cut_and_counted(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a", {f"f{i:02}": "a" for i in range(12)})
    b = _tree(tmp_path / "b", {f"f{i:02}": "b" for i in range(12)})
    differences, more = compare_trees(a, b, limit=5)
    assert [d.path for d in differences] == ["f00", "f01", "f02", "f03", "f04"]
    assert more == 7


def test_text_diff_is_cut_to_a_few_lines() -> None:
    text_a = "\n".join(f"line {i}" for i in range(100))
    text_b = "\n".join(f"LINE {i}" for i in range(100))
    lines = text_diff(text_a, text_b, max_lines=10).splitlines()
    assert len(lines) == 11
    assert lines[-1].startswith("… ") and "more diff lines" in lines[-1]


@pytest.mark.skipif(shutil.which("diffoscope") is None, reason="diffoscope is not installed")
def test_diffoscope_report_names_the_file_with_neutral_labels(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a", {"share/stamp.txt": "1700000000\n", "same": "x"})
    b = _tree(tmp_path / "b", {"share/stamp.txt": "1700000009\n", "same": "x"})
    report = run_diffoscope(a, b)
    assert report is not None
    text, html = report.text, report.html
    assert "A/share/stamp.txt" in text and "B/share/stamp.txt" in text
    assert str(tmp_path) not in text
    assert "-1700000000" in text and "+1700000009" in text
    # The same run's HTML page, for --html: same neutral labels, nothing fetched from outside.
    assert html is not None and "A/share/stamp.txt" in html and str(tmp_path) not in html
    assert "stamp.txt" in html and "17000000" in html
    # Assets (scripts, images, style sheets) are inline: nothing is loaded over the network.
    assert not re.search(r"""src=["']?(https?:)?//""", html)
    assert not re.search(r"""<link[^>]*href=["']?(https?:)?//""", html)


def test_diffoscope_missing_means_no_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert run_diffoscope(tmp_path, tmp_path) is None
