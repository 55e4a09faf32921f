"""Each perturbation of verify's second build is caught by a derivation sensitive to it alone.

tests/fixtures/verify/sensitive has one busybox derivation per perturbation;
verify runs with all of them, none, and each one alone, with real Nix.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.support.nixenv import TEST_NIX_CONFIG
from tests.test_verify_nix import by_name, fixture_flake, verify

pytestmark = pytest.mark.nix

# What each sensitive derivation writes in run A and run B (a prefix of B where it varies).
SEEN = {
    "build-dir": ("/build\n", "/build-p2n-b\n"),
    "cores": ("1\n", "2\n"),
    "cpus": ("2\n", "1\n"),
    "kernel": (os.uname().release + "\n", "2.6."),
    "timezone": ("01:46 +0000\n", "07:31 +0545\n"),
    "file-order": ("d\nd/one\nd/two\nd/three\nd/four\nd/five\n", "d\nd/five\nd/four\nd/three"),
}
CAUGHT_IN_CHROOT_STORES = [*SEEN, "build-user", "environment", "umask"]
# TZ is an environment variable too: local time moves with it, as with /etc/localtime.
ALSO_MOVED = {"environment": ["sense-timezone"]}


@pytest.fixture(scope="module")
def sensitive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fixture_flake("sensitive", tmp_path_factory.mktemp("sensitive"))


def run(flake: Path, tmp_path: Path, *args: str) -> tuple[dict[str, Any], str]:
    report_file = tmp_path / "report.json"
    result = verify(
        f"path:{flake}", "--no-diffoscope", "--json", str(report_file), *args, tmpdir=tmp_path / "t"
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return json.loads(report_file.read_text()), result.stdout


def seen(entry: dict[str, Any]) -> tuple[str, str]:
    [difference] = entry["files"]
    assert difference["path"] == "seen"
    return difference["detail"], difference["change"]


def test_every_perturbation_is_applied_named_and_caught(sensitive: Path, tmp_path: Path) -> None:
    report, table = run(sensitive, tmp_path)
    applied = {p["name"] for p in report["perturbations"]}
    assert applied >= {"clock", "max-jobs", *CAUGHT_IN_CHROOT_STORES}
    not_perturbed = {p["name"]: p["reason"] for p in report["not_perturbed"]}
    assert "localhost" in not_perturbed["hostname"]  # chroot stores always build sandboxed
    assert set(not_perturbed) == {"hostname"}
    entries = by_name(report)
    for name in CAUGHT_IN_CHROOT_STORES:
        entry = entries[f"sense-{name}"]
        assert (entry["status"], entry["origin"]) == ("differs", "own"), name
        detail, change = seen(entry)
        assert change == "contents"
        if name not in ("environment", "umask"):
            # Found by run B: the variants (built beside B for every derivation A built)
            # count only for derivations reproducible in A and B.
            assert entry["found_by"] is None, name
        if name in SEEN:
            before, after = SEEN[name]
            lines = detail.splitlines()
            assert "-" + before.splitlines()[-1] in lines, (name, detail)
            assert any(line.startswith("+" + after.splitlines()[-1]) for line in lines), detail
    for name in ("sense-steady", "sense-hostname"):
        assert entries[name]["status"] == "reproducible"
    assert entries["all-senses"]["origin"] == "inherited"
    # Identical in A and B; differs once rebuilt with the variables Nix never passes.
    environment = entries["sense-environment"]
    assert environment["found_by"] == "environment, umask"  # one variant varies both
    assert environment["outputs"][0]["nar_hash_a"] == environment["outputs"][0]["nar_hash_b"]
    assert "+TZ=NPT-5:45 LANG=C.UTF-8 LC_ALL=C.UTF-8" in seen(environment)[0].splitlines()
    assert [line for line in seen(entries["sense-umask"])[0].splitlines() if line[:1] in "+-"][
        2:
    ] == ["-0022", "+0077"]
    assert "not varied: hostname: the sandbox sets the host name to localhost" in table


def test_without_perturbation_every_fixture_is_reproducible(
    sensitive: Path, tmp_path: Path
) -> None:
    report, _table = run(sensitive, tmp_path, "--no-perturb")
    assert report["verdict"] == "reproducible"
    assert [p["name"] for p in report["perturbations"]] == ["clock"]


@pytest.mark.parametrize("name", CAUGHT_IN_CHROOT_STORES)
def test_each_perturbation_alone_moves_only_its_own_fixture(
    sensitive: Path, tmp_path: Path, name: str
) -> None:
    report, _table = run(sensitive, tmp_path, "--perturb", name)
    assert [p["name"] for p in report["perturbations"]] == ["clock", name]
    own = sorted(e["name"] for e in report["derivations"] if e["origin"] == "own")
    assert own == sorted([f"sense-{name}", *ALSO_MOVED.get(name, [])])
    if name not in ("environment", "umask"):  # variants build on A's inputs: none inherits
        assert by_name(report)["all-senses"]["origin"] == "inherited"


def test_hostname_varies_for_unsandboxed_builds(sensitive: Path, tmp_path: Path) -> None:
    """Sandboxed builds always see "localhost"; without the sandbox p2n sets another name."""
    unsandboxed = TEST_NIX_CONFIG.replace("sandbox = true", "sandbox = false")
    os.environ["NIX_CONFIG"], saved = unsandboxed, os.environ["NIX_CONFIG"]
    try:
        report, _ = run(sensitive, tmp_path, "--same-store", "--perturb", "hostname")
    finally:
        os.environ["NIX_CONFIG"] = saved
    [entry] = [e for e in report["derivations"] if e["name"] == "sense-hostname"]
    detail, _change = seen(entry)
    assert "+p2n-second-build" in detail.splitlines()
    assert [p["name"] for p in report["perturbations"]] == ["clock", "hostname"]


def test_a_perturbation_that_cannot_apply_is_an_error(sensitive: Path, tmp_path: Path) -> None:
    result = verify(f"path:{sensitive}", "--perturb", "hostname", tmpdir=tmp_path / "t")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith(
        "p2n: error: --perturb hostname: not possible here: the sandbox sets"
    )
    unknown = verify(f"path:{sensitive}", "--perturb", "locale", tmpdir=tmp_path / "t")
    assert unknown.returncode == 2 and "unknown perturbation 'locale'" in unknown.stderr
