"""The --html page, read as a browser's parser would (no browser: see test_verify_html_browser)."""

from __future__ import annotations

import dataclasses
import json

from pyproject2nix.verify.model import Derivation, DerivationResult, OutputResult, Status
from pyproject2nix.verify.page import human_size, render_html
from pyproject2nix.verify.report import to_json_data
from tests.support.dom import by_id, derivation_rows, external_references, parse, walk
from tests.test_verify_report import sample_report


def test_page_has_the_verdict_a_row_per_derivation_and_each_explanation() -> None:
    report = sample_report()
    root = parse(render_html(report))
    assert by_id(root, "verdict").attrs["data-verdict"] == "not-reproducible"
    assert "NOT reproducible: 2 differ and 2 failed" in by_id(root, "verdict").text
    rows = derivation_rows(root)
    assert list(rows) == ["steady", "noisy", "consumer", "picky", "top", "source.tar.gz"]
    assert {name: row.attrs["data-status"] for name, row in rows.items()} == {
        "steady": "reproducible",
        "noisy": "differs",
        "consumer": "differs",
        "picky": "failed",
        "top": "failed",
        "source.tar.gz": "fixed-output",
    }
    assert rows["noisy"].attrs["data-origin"] == "own"
    assert "inherited from noisy" in rows["consumer"].text
    sections = {s.attrs["data-name"]: s for s in walk(root) if "why" in s.attrs.get("class", "")}
    # Differences and real build failures are explained; a dependency failure is not.
    assert set(sections) == {"noisy", "consumer", "picky"}
    assert "first difference at byte 0" in sections["noisy"].text
    assert "refusing to build outside /build" in sections["picky"].text
    perturbations = by_id(root, "perturbations").text
    assert "cores" in perturbations and "NIX_BUILD_CORES" in perturbations
    # The JSON report rides along, whole.
    assert json.loads(by_id(root, "report-data").text) == to_json_data(report)
    assert external_references(root) == []


def test_sizes_times_and_diffoscope_html_are_shown() -> None:
    report = sample_report()
    noisy = report.results[1]
    output = dataclasses.replace(noisy.outputs[0], nar_size_a=1536, nar_size_b=1540)
    page = '<html><body><p class="x">A/stamp.txt "quoted" &amp;</p></body></html>'
    noisy = dataclasses.replace(
        noisy,
        outputs=(output,),
        build_seconds=(("a", 0.0), ("b", 12.4)),
        diffoscope_html=(("out", page),),
    )
    report = dataclasses.replace(report, results=(report.results[0], noisy, *report.results[2:]))
    root = parse(render_html(report))
    cells = [td.text for td in walk(derivation_rows(root)["noisy"]) if td.tag == "td"]
    assert cells[3:6] == ["1.5 KiB", "< 1 s", "12 s"]
    [frame] = [e for e in walk(root) if e.tag == "iframe"]
    assert frame.attrs["srcdoc"] == page  # escaped in the attribute, whole once parsed
    assert "sandbox" in frame.attrs  # diffoscope's page runs no script
    assert (human_size(None), human_size(10), human_size(3 * 1024**3)) == ("—", "10 B", "3.0 GiB")


def test_hostile_names_stay_text() -> None:
    name = '<script>alert(1)</script>"</script>'
    evil = DerivationResult(
        Derivation("/nix/store/x-e.drv", name, (("out", "/nix/store/x-e"),), (), False),
        Status.REPRODUCIBLE,
        (OutputResult("out", "/nix/store/x-e", "sha256-A", "sha256-A"),),
    )
    report = dataclasses.replace(sample_report(), results=(evil,), installable=name)
    page = render_html(report)
    root = parse(page)
    scripts = [e for e in walk(root) if e.tag == "script"]
    assert len(scripts) == 2  # the JSON data and the page's own filter, nothing injected
    assert "alert(1)" not in scripts[1].text
    assert json.loads(by_id(root, "report-data").text)["derivations"][0]["name"] == name
    assert list(derivation_rows(root)) == [name, "source.tar.gz"]
