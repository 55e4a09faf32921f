"""Rendering verify reports: the table, the JSON schema (docs/verify.md), JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pyproject2nix.errors import OutputError
from pyproject2nix.verify.model import (
    Derivation,
    DerivationResult,
    Failure,
    FileDifference,
    Origin,
    OutputResult,
    Perturbation,
    Status,
    VerifyReport,
)
from pyproject2nix.verify.report import (
    SCHEMA,
    render_json,
    render_junit,
    render_table,
    write_atomically,
)

S = "/nix/store"


def _derivation(name: str, *, fod: bool = False) -> Derivation:
    return Derivation(f"{S}/{name}-h.drv", name, (("out", f"{S}/{name}-o"),), (), fod)


def _outputs(name: str, a: str | None, b: str | None) -> tuple[OutputResult, ...]:
    return (OutputResult("out", f"{S}/{name}-o", a, b),)


def sample_report() -> VerifyReport:
    noisy = DerivationResult(
        _derivation("noisy"),
        Status.DIFFERS,
        _outputs("noisy", "sha256-A", "sha256-B"),
        origin=Origin.OWN,
        files=(
            FileDifference("out", "stamp.txt", "contents", "text", "-1\n+2"),
            FileDifference("out", "noise.bin", "contents", "binary", "first difference at byte 0"),
        ),
    )
    consumer = DerivationResult(
        _derivation("consumer"),
        Status.DIFFERS,
        _outputs("consumer", "sha256-C", "sha256-D"),
        origin=Origin.INHERITED,
        differing_inputs=(f"{S}/noisy-h.drv",),
        inherited_from=(f"{S}/noisy-h.drv",),
        files=(FileDifference("out", "copied", "contents", "text", "-1\n+2"),),
    )
    picky = DerivationResult(
        _derivation("picky"),
        Status.FAILED,
        _outputs("picky", "sha256-E", None),
        failures=(Failure("b", "build", log_tail="refusing to build outside /build"),),
    )
    top = DerivationResult(
        _derivation("top"),
        Status.FAILED,
        _outputs("top", "sha256-F", None),
        failures=(Failure("b", "dependency", (f"{S}/picky-h.drv",)),),
    )
    steady = DerivationResult(
        _derivation("steady"), Status.REPRODUCIBLE, _outputs("steady", "sha256-G", "sha256-G")
    )
    return VerifyReport(
        installable="path:/src#default",
        top=f"{S}/top-h.drv",
        mode="separate-stores",
        store_a="local?root=/tmp/a",
        store_b="local?root=/tmp/b",
        kept=None,
        perturbations=(
            Perturbation("clock", "first build", "later", "time stamps differ"),
            Perturbation("cores", "1", "2", "NIX_BUILD_CORES"),
        ),
        results=(steady, noisy, consumer, picky, top),
        fixed_outputs=(_derivation("source.tar.gz", fod=True),),
        timings={"total": 2.5, "build_a": 1.0},
    )


def test_json_follows_the_documented_schema() -> None:
    data = json.loads(render_json(sample_report()))
    assert data["schema"] == SCHEMA == "p2n.verify/1"
    assert data["verdict"] == "not-reproducible"
    assert data["summary"] == {
        "derivations": 5,
        "reproducible": 1,
        "differs": 2,
        "failed": 2,
        "fixed_outputs": 1,
    }
    assert data["stores"] == {"a": "local?root=/tmp/a", "b": "local?root=/tmp/b"}
    assert data["perturbations"][1] == {
        "name": "cores",
        "a": "1",
        "b": "2",
        "how": "NIX_BUILD_CORES",
    }
    by_name = {d["name"]: d for d in data["derivations"]}
    assert [d["name"] for d in data["derivations"]] == [
        "steady",
        "noisy",
        "consumer",
        "picky",
        "top",
    ]
    assert by_name["noisy"]["origin"] == "own"
    assert [f["path"] for f in by_name["noisy"]["files"]] == ["stamp.txt", "noise.bin"]
    assert by_name["consumer"]["inherited_from"] == [f"{S}/noisy-h.drv"]
    assert by_name["picky"]["failures"][0]["run"] == "b"
    assert by_name["top"]["failures"][0]["reason"] == "dependency"
    assert by_name["steady"]["outputs"][0]["nar_hash_a"] == "sha256-G"
    assert set(by_name["steady"]) == {
        "name", "drv", "status", "origin", "differing_inputs", "inherited_from",
        "outputs", "failures", "files", "files_truncated", "diffoscope", "build_seconds",
        "found_by",
    }  # fmt: skip
    assert data["fixed_outputs"][0]["name"] == "source.tar.gz"
    assert data["timings_seconds"] == {"build_a": 1.0, "total": 2.5}


def test_json_of_a_reproducible_report() -> None:
    report = sample_report()
    steady_only = VerifyReport(**{**report.__dict__, "results": report.results[:1]})
    data = json.loads(render_json(steady_only))
    assert data["verdict"] == "reproducible"


def test_junit_has_one_case_per_derivation_and_failures() -> None:
    root = ET.fromstring(render_junit(sample_report()))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("5", "4", "0")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert list(cases) == ["steady", "noisy", "consumer", "picky", "top"]
    assert cases["steady"].find("failure") is None
    noisy_failure = cases["noisy"].find("failure")
    assert noisy_failure is not None
    assert noisy_failure.get("type") == "differs"
    assert "stamp.txt" in (noisy_failure.get("message") or "")
    assert "stamp.txt" in (noisy_failure.text or "")
    picky_failure = cases["picky"].find("failure")
    assert picky_failure is not None and picky_failure.get("type") == "failed"
    assert "refusing to build" in (picky_failure.text or "")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["perturbation.cores"] == "1 -> 2"


def test_junit_names_stay_unique() -> None:
    report = sample_report()
    twin = DerivationResult(
        Derivation(f"{S}/other-steady.drv", "steady", (), (), False), Status.REPRODUCIBLE, ()
    )
    doubled = VerifyReport(**{**report.__dict__, "results": (*report.results, twin)})
    names = [c.get("name") for c in ET.fromstring(render_junit(doubled)).iter("testcase")]
    assert len(set(names)) == len(names)


def test_table_lists_each_derivation_why_and_the_verdict() -> None:
    table = render_table(sample_report())
    lines = table.splitlines()
    assert lines[0].startswith("p2n verify path:/src#default (separate stores")
    assert "cores 1 → 2" in lines[0]
    row = {
        line.split()[1]: line for line in lines if line.startswith("  ") and len(line.split()) > 1
    }
    assert row["noisy"].split()[0] == "differs" and "own: noise.bin, stamp.txt" in row["noisy"]
    assert "inherited from noisy: copied" in row["consumer"]
    assert "failed to build in B" in row["picky"]
    assert "dependency picky failed" in row["top"]
    assert row["source.tar.gz"].split()[0] == "fixed-output"
    assert "    | refusing to build outside /build" in lines
    assert lines[-1] == "verdict: NOT reproducible: 2 differ and 2 failed to build of 5 derivations"


def test_write_atomically(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    write_atomically(target, "{}\n")
    assert target.read_text() == "{}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    with pytest.raises(OutputError, match="cannot write"):
        write_atomically(tmp_path / "missing" / "report.json", "{}")
