"""``p2n verify`` with real Nix on tiny busybox flakes (tests/fixtures/verify) and the example.

Every test runs the real CLI in a subprocess, so exit codes, stdout (the
table) and the --json/--junit files are checked as a user or CI sees them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from pyproject2nix.verify.stores import remove_tree
from tests.helpers import EXAMPLE, FIXTURES, run_p2n
from tests.support.nixenv import require_nix

pytestmark = pytest.mark.nix

BUSYBOX = Path("/bin/busybox")


@pytest.fixture(autouse=True)
def _nix_installed() -> None:
    require_nix()


def fixture_flake(name: str, destination: Path) -> Path:
    """A copy of tests/fixtures/verify/<name> with the static busybox its builders use."""
    flake = destination / name
    shutil.copytree(FIXTURES / "verify" / name, flake)
    (flake / "tools").mkdir()
    shutil.copy(BUSYBOX, flake / "tools" / "busybox")
    return flake


def verify(*args: str, tmpdir: Path) -> subprocess.CompletedProcess[str]:
    """Run ``p2n verify`` with its temporary stores under ``tmpdir`` (to check clean-up)."""
    tmpdir.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "pyproject2nix", "verify", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TMPDIR": str(tmpdir)},
        timeout=900,
    )


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in report["derivations"]}


def junit_cases(path: Path) -> dict[str, ET.Element]:
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    return {case.get("name") or "": case for case in suite.iter("testcase")}


def test_reproducible_chain_exits_0_and_lists_each_derivation(tmp_path: Path) -> None:
    flake = fixture_flake("chain", tmp_path)
    result = verify(
        f"path:{flake}",
        "--json",
        str(tmp_path / "report.json"),
        "--junit",
        str(tmp_path / "report.xml"),
        tmpdir=tmp_path / "tmp",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["schema"] == "p2n.verify/1"
    assert report["verdict"] == "reproducible"
    assert report["mode"] == "separate-stores"
    assert [(d["name"], d["status"]) for d in report["derivations"]] == [
        ("first", "reproducible"),
        ("second", "reproducible"),
        ("third", "reproducible"),
    ]
    for entry in report["derivations"]:
        [output] = entry["outputs"]
        assert output["nar_hash_a"] == output["nar_hash_b"]
        assert output["nar_hash_a"].startswith("sha256-")
    assert [f["name"] for f in report["fixed_outputs"]] == ["source.txt"]
    assert {p["name"] for p in report["perturbations"]} >= {"clock", "build-dir", "cores"}
    phases = report["timings_seconds"]
    assert set(phases) == {
        "evaluate", "fetch_and_copy", "build_a", "build_b", "compare", "variants",
        "variants_build", "variants_compare", "cleanup", "total",
    }  # fmt: skip
    assert phases["variants"] >= phases["variants_build"] and phases["total"] >= phases["build_b"]
    cases = junit_cases(tmp_path / "report.xml")
    assert sorted(cases) == ["first", "second", "third"]
    assert all(case.find("failure") is None for case in cases.values())
    assert "verdict: reproducible: all 3 derivations are bit-identical" in result.stdout
    assert "building '" in result.stderr  # progress while building
    # Stores are chroot stores under TMPDIR, and removed afterwards.
    assert "local?root=" + str(tmp_path / "tmp") in report["stores"]["a"]
    assert list((tmp_path / "tmp").iterdir()) == []


def test_nondeterministic_derivation_exits_1_names_it_and_its_files(tmp_path: Path) -> None:
    flake = fixture_flake("nondeterministic", tmp_path)
    result = verify(
        f"path:{flake}",
        "--json",
        str(tmp_path / "report.json"),
        "--junit",
        str(tmp_path / "report.xml"),
        tmpdir=tmp_path / "tmp",
    )
    assert result.returncode == 1, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdict"] == "not-reproducible"
    assert report["summary"] == {
        "derivations": 3,
        "reproducible": 1,
        "differs": 2,
        "failed": 0,
        "fixed_outputs": 0,
    }
    entries = by_name(report)
    assert entries["steady"]["status"] == "reproducible"
    noisy = entries["noisy"]
    assert (noisy["status"], noisy["origin"]) == ("differs", "own")
    files = {f["path"]: f for f in noisy["files"]}
    assert set(files) == {"noise.bin", "stamp.txt"}  # steady.txt is the same in both
    assert files["noise.bin"]["kind"] == "binary"
    assert "first difference at byte" in files["noise.bin"]["detail"]
    assert files["stamp.txt"]["kind"] == "text"
    consumer = entries["consumer"]
    assert (consumer["status"], consumer["origin"]) == ("differs", "inherited")
    assert consumer["inherited_from"] == [noisy["drv"]]
    assert [f["path"] for f in consumer["files"]] == ["copied-stamp.txt"]
    if shutil.which("diffoscope"):
        assert "A/noise.bin" in noisy["diffoscope"]
    # For people: the table names the derivation, the file, and the inheritance.
    assert "noisy" in result.stdout and "noise.bin" in result.stdout
    assert "inherited from noisy" in result.stdout
    assert "NOT reproducible" in result.stderr
    cases = junit_cases(tmp_path / "report.xml")
    assert cases["steady"].find("failure") is None
    for name in ("noisy", "consumer"):
        failure = cases[name].find("failure")
        assert failure is not None and failure.get("type") == "differs"
    noisy_failure = cases["noisy"].find("failure")
    assert noisy_failure is not None and "noise.bin" in (noisy_failure.get("message") or "")


def test_failure_only_in_the_perturbed_build_is_reported_as_failed(tmp_path: Path) -> None:
    flake = fixture_flake("picky", tmp_path)
    result = verify(
        f"path:{flake}",
        "--json",
        str(tmp_path / "report.json"),
        "--junit",
        str(tmp_path / "report.xml"),
        tmpdir=tmp_path / "tmp",
    )
    assert result.returncode == 1, result.stderr
    entries = by_name(json.loads((tmp_path / "report.json").read_text()))
    assert entries["base"]["status"] == "reproducible"
    picky = entries["picky"]
    assert picky["status"] == "failed"
    [failure] = picky["failures"]
    assert (failure["run"], failure["reason"]) == ("b", "build")
    assert "refusing to build outside /build" in failure["log_tail"]
    assert picky["outputs"][0]["nar_hash_a"] is not None  # built fine in A
    assert picky["outputs"][0]["nar_hash_b"] is None
    [top_failure] = entries["top"]["failures"]
    assert (top_failure["reason"], top_failure["dependencies"]) == ("dependency", [picky["drv"]])
    assert "failed to build in B" in result.stdout
    cases = junit_cases(tmp_path / "report.xml")
    picky_failure = cases["picky"].find("failure")
    assert picky_failure is not None and picky_failure.get("type") == "failed"
    # Without perturbation the same flake builds in both stores.
    unperturbed = verify(f"path:{flake}", "--no-perturb", "-q", tmpdir=tmp_path / "tmp")
    assert unperturbed.returncode == 0, unperturbed.stdout + unperturbed.stderr


def test_same_store_mode_uses_nix_check(tmp_path: Path) -> None:
    flake = fixture_flake("nondeterministic", tmp_path)
    result = verify(
        f"path:{flake}",
        "--same-store",
        "--no-diffoscope",
        "--json",
        str(tmp_path / "report.json"),
        tmpdir=tmp_path / "tmp",
    )
    assert result.returncode == 1, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["mode"] == "same-store"
    entries = by_name(report)
    noisy = entries["noisy"]
    assert (noisy["status"], noisy["origin"]) == ("differs", "own")
    assert {f["path"] for f in noisy["files"]} == {"noise.bin", "stamp.txt"}
    assert noisy["diffoscope"] is None
    [output] = noisy["outputs"]
    assert output["nar_hash_a"] != output["nar_hash_b"]
    # Same store, same inputs: the consumer is rebuilt from the one noisy output.
    assert entries["consumer"]["status"] == "reproducible"
    assert not Path(output["path"] + ".check").exists()  # the rebuilt copy is cleaned up

    chain = fixture_flake("chain", tmp_path)
    assert verify(f"path:{chain}", "--same-store", "-q", tmpdir=tmp_path / "tmp").returncode == 0
    # A store other than the default gets the derivations and the fetched source first.
    given = f"local?root={tmp_path / 'given'}"
    in_given = verify(f"path:{chain}", "--same-store", "--store-a", given, tmpdir=tmp_path / "tmp")
    assert in_given.returncode == 0, in_given.stdout + in_given.stderr
    assert list((tmp_path / "given" / "nix" / "store").glob("*-third"))
    remove_tree(tmp_path / "given")


def test_keep_leaves_the_stores_and_says_where(tmp_path: Path) -> None:
    flake = fixture_flake("chain", tmp_path)
    result = verify(f"path:{flake}", "--keep", "-q", tmpdir=tmp_path / "tmp")
    assert result.returncode == 0, result.stderr
    [kept_line] = [line for line in result.stdout.splitlines() if line.startswith("kept: ")]
    kept = Path(kept_line.split()[1])
    try:
        assert kept.parent == tmp_path / "tmp"
        assert list((kept / "store-a" / "nix" / "store").glob("*-third"))
        assert list((kept / "store-b" / "nix" / "store").glob("*-third"))
    finally:
        remove_tree(kept)


def test_user_given_stores_must_be_fresh(tmp_path: Path) -> None:
    flake = fixture_flake("chain", tmp_path)
    stores = ["--store-a", f"local?root={tmp_path / 'sa'}", "--store-b", str(tmp_path / "sb")]
    first = verify(
        f"path:{flake}", *stores, "--json", str(tmp_path / "r.json"), tmpdir=tmp_path / "t"
    )
    assert first.returncode == 0, first.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["stores"] == {"a": f"local?root={tmp_path / 'sa'}", "b": str(tmp_path / "sb")}
    assert list((tmp_path / "sb" / "nix" / "store").glob("*-third"))  # user stores are kept
    again = verify(f"path:{flake}", *stores, tmpdir=tmp_path / "t")
    assert again.returncode == 2
    assert "already holds" in again.stderr
    for store in ("sa", "sb"):
        remove_tree(tmp_path / store)


def test_bad_input_exits_2(tmp_path: Path) -> None:
    flake = fixture_flake("chain", tmp_path)
    missing = verify(f"path:{flake}#does-not-exist", tmpdir=tmp_path / "tmp")
    assert missing.returncode == 2
    assert missing.stderr.splitlines()[-1].startswith("p2n: error: ")
    usage = verify(f"path:{flake}", "--same-store", "--store-b", "/tmp/x", tmpdir=tmp_path / "tmp")
    assert usage.returncode == 2
    assert "--store-b" in usage.stderr


def _plain_build_seconds(
    installable: str, top_fods: list[str], tmp_path: Path, *nix_args: str
) -> float:
    """One ordinary ``nix build`` of the same closure into a fresh store, sources already there."""
    store = f"local?root={tmp_path / 'plain'}"
    if top_fods:
        subprocess.run(
            ["nix", "copy", "--no-check-sigs", "--to", store, *top_fods],
            check=True,
            capture_output=True,
        )
    started = time.monotonic()
    subprocess.run(
        ["nix", "build", "--no-link", "--store", store, installable, *nix_args],
        check=True,
        capture_output=True,
    )
    seconds = time.monotonic() - started
    remove_tree(tmp_path / "plain")
    return seconds


def _measure(label: str, installable: str, tmp_path: Path, *nix_args: str) -> dict[str, Any]:
    started = time.monotonic()
    result = verify(
        installable, *nix_args, "-q", "--json", str(tmp_path / "m.json"), tmpdir=tmp_path / "m"
    )
    verify_seconds = time.monotonic() - started
    report = json.loads((tmp_path / "m.json").read_text())
    fetched = [o["path"] for f in report["fixed_outputs"] for o in f["outputs"]]
    plain = _plain_build_seconds(installable, fetched, tmp_path, *nix_args)
    line = (
        f"[verify cost] {label}: verify {verify_seconds:.2f} s, one plain build {plain:.2f} s, "
        f"ratio {verify_seconds / plain:.1f}; phases {report['timings_seconds']}"
    )
    print(line)
    with open(tmp_path.parent / "verify-cost.txt", "a", encoding="utf-8") as log:
        log.write(line + "\n")
    return {"result": result, "report": report}


def test_verify_cost_against_one_plain_build(tmp_path: Path) -> None:
    flake = fixture_flake("chain", tmp_path)
    measured = _measure("busybox chain (3 drvs + 1 fetch)", f"path:{flake}", tmp_path)
    assert measured["result"].returncode == 0


@pytest.fixture(scope="module")
def example_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("verify-example") / "hello"
    project.mkdir()
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(EXAMPLE / name, project / name)
    shutil.copytree(EXAMPLE / "src", project / "src")
    generated = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert generated.returncode == 0, generated.stderr
    return project


def test_example_environment_is_reproducible(
    example_project: Path, standin_override: list[str], tmp_path: Path
) -> None:
    measured = _measure(
        "example environment (examples/hello)",
        f"path:{example_project}",
        tmp_path,
        *standin_override,
    )
    result, report = measured["result"], measured["report"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["verdict"] == "reproducible"
    names = [entry["name"] for entry in report["derivations"]]
    assert all(entry["status"] == "reproducible" for entry in report["derivations"])
    assert any("rich" in name for name in names)
    assert report["derivations"][-1]["drv"] == report["derivation"]  # the top comes last
    assert any(f["name"].endswith(".whl") for f in report["fixed_outputs"])


def test_timestamp_pyc_is_explained_as_a_header_difference(
    standin_override: list[str], tmp_path: Path
) -> None:
    flake = tmp_path / "pyc"
    shutil.copytree(FIXTURES / "verify" / "pyc", flake)
    result = verify(
        f"path:{flake}",
        *standin_override,
        "--no-diffoscope",
        "--json",
        str(tmp_path / "report.json"),
        tmpdir=tmp_path / "tmp",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    entries = by_name(json.loads((tmp_path / "report.json").read_text()))
    others = {name: entry["status"] for name, entry in entries.items() if name != "timestamp-pycs"}
    assert others and set(others.values()) == {"reproducible"}  # the stand-in's interpreter
    pycs = entries["timestamp-pycs"]
    assert (pycs["status"], pycs["origin"]) == ("differs", "own")
    [difference] = pycs["files"]
    assert (difference["path"], difference["kind"]) == ("pkg/mod.cpython-311.pyc", "pyc")
    assert "source mtime" in difference["detail"]
    assert "body (marshalled code) identical" in difference["detail"]
    assert "pkg/mod.cpython-311.pyc" in result.stdout


TMPDIR_FLAKE = """\
{
  outputs = { self }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "writes-tmpdir";
      system = "x86_64-linux";
      builder = "${./tools}/busybox";
      args = [ "sh" "-c" "echo x > $TMPDIR/x && ${./tools}/busybox cp $TMPDIR/x $out" ];
    };
  };
}
"""


def test_same_store_works_without_the_sandbox(tmp_path: Path) -> None:
    """Debian's nix-bin builds with ``sandbox = false``: builders then run as build users in
    directories under verify's own temporary directory, and write there by absolute path
    (``$TMPDIR``, as install_wheel.py does): they must be able to enter it."""
    flake = tmp_path / "tmpdir-flake"
    (flake / "tools").mkdir(parents=True)
    shutil.copy(BUSYBOX, flake / "tools" / "busybox")
    (flake / "flake.nix").write_text(TMPDIR_FLAKE)
    config = os.environ.get("NIX_CONFIG", "").replace("sandbox = true", "sandbox = false")
    env = {**os.environ, "NIX_CONFIG": config + "\nsandbox = false"}
    env.pop("TMPDIR", None)  # the system's /tmp, as a user's (pytest's tmp_path is 0700)
    result = subprocess.run(
        [sys.executable, "-m", "pyproject2nix", "verify", f"path:{flake}", "--same-store", "-q"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
