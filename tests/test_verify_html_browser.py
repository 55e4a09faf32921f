"""``p2n verify --html`` opened in a real browser engine: Debian's chromium, headless.

The test reads the verdicts from the DOM chromium rendered (after the page's
script ran), checks that nothing is loaded from the network, and takes a
screenshot (set P2N_SCREENSHOT=path to keep it, as docs/verify-report.png was made).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support.browser import dump_dom, screenshot
from tests.support.dom import by_id, derivation_rows, external_references, parse, walk
from tests.test_verify_nix import fixture_flake, verify

pytestmark = pytest.mark.nix


def test_html_report_renders_with_verdicts_and_explanations(tmp_path: Path) -> None:
    flake = fixture_flake("nondeterministic", tmp_path)
    page = tmp_path / "report.html"
    result = verify(f"path:{flake}", "--html", str(page), "-q", tmpdir=tmp_path / "tmp")
    assert result.returncode == 1, result.stdout + result.stderr
    url = page.as_uri()

    root = parse(dump_dom(url, tmp_path / "profile"))
    assert by_id(root, "verdict").attrs["data-verdict"] == "not-reproducible"
    rows = derivation_rows(root)
    assert {
        name: (row.attrs["data-status"], row.attrs["data-origin"]) for name, row in rows.items()
    } == {
        "steady": ("reproducible", ""),
        "noisy": ("differs", "own"),
        "consumer": ("differs", "inherited"),
    }
    cells = [td.text for td in walk(rows["noisy"]) if td.tag == "td"]
    assert cells[3].endswith(" B") and cells[4] and cells[5]  # size, build A, build B
    sections = {s.attrs["data-name"]: s for s in walk(root) if "why" in s.attrs.get("class", "")}
    assert "noise.bin" in sections["noisy"].text and "stamp.txt" in sections["noisy"].text
    frames = [e for e in walk(sections["noisy"]) if e.tag == "iframe"]
    if shutil.which("diffoscope"):
        [frame] = frames
        assert "A/noise.bin" in frame.attrs["srcdoc"]  # diffoscope's own page, inline
    else:
        assert frames == []
    assert external_references(root) == []
    assert not any(row.attrs.get("hidden") is not None for row in rows.values())

    # The page's script ran in the browser: #only-problems hides the reproducible row.
    filtered = derivation_rows(parse(dump_dom(url + "#only-problems", tmp_path / "profile")))
    assert "hidden" in filtered["steady"].attrs
    assert "hidden" not in filtered["noisy"].attrs

    shot = screenshot(url, tmp_path / "report.png", tmp_path / "profile")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    if os.environ.get("P2N_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["P2N_SCREENSHOT"])
