"""``p2n verify`` with both stores on the far side of ssh-ng://, for real.

sshd runs on 127.0.0.1 with a throwaway key (tests/support/sshd.py); the
far side is a non-root user whose ``nix-daemon --stdio`` builds in its own
chroot stores (``remote-store=local?root=…``). Nothing here is mocked: Nix
copies the derivations over ssh, builds there, and p2n reads the outputs
back with ``nix store dump-path``.
"""

from __future__ import annotations

import json
import os
import pwd
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.sshd import REMOTE_USER, LoopbackSsh, loopback_sshd
from tests.test_verify_nix import by_name, fixture_flake, verify

pytestmark = pytest.mark.nix


@pytest.fixture
def far_side() -> Iterator[LoopbackSsh]:
    with loopback_sshd() as ssh:
        os.environ["NIX_SSHOPTS"] = ssh.nix_sshopts
        try:
            yield ssh
        finally:
            del os.environ["NIX_SSHOPTS"]
    assert not ssh.base.exists()  # stores, keys and sshd's files are gone


def remote_outputs(ssh: LoopbackSsh, store: str, name: str) -> list[Path]:
    return sorted((ssh.store_root(store) / "nix" / "store").glob(f"*-{name}"))


def test_two_remote_stores_build_compare_and_explain(far_side: LoopbackSsh, tmp_path: Path) -> None:
    flake = fixture_flake("nondeterministic", tmp_path)
    store_a, store_b = far_side.store_url("store-a"), far_side.store_url("store-b")
    result = verify(
        f"path:{flake}",
        "--store-a",
        store_a,
        "--store-b",
        store_b,
        "--no-diffoscope",
        "--json",
        str(tmp_path / "report.json"),
        tmpdir=tmp_path / "tmp",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["stores"] == {"a": store_a, "b": store_b}
    entries = by_name(report)
    assert entries["steady"]["status"] == "reproducible"
    noisy = entries["noisy"]
    assert (noisy["status"], noisy["origin"]) == ("differs", "own")
    # The files were read back over ssh (nix store dump-path) and compared here.
    assert {f["path"] for f in noisy["files"]} == {"noise.bin", "stamp.txt"}
    # The rebuild check ran on the far side, in store A, on A's inputs.
    assert (entries["consumer"]["origin"], entries["consumer"]["inherited_from"]) == (
        "inherited",
        [noisy["drv"]],
    )
    # Built there, by the far side's non-root user, in each of its stores.
    remote_uid = pwd.getpwnam(REMOTE_USER).pw_uid
    assert remote_uid != 0
    for store in ("store-a", "store-b"):
        [output] = remote_outputs(far_side, store, "noisy")
        assert output.stat().st_uid == remote_uid
    # What travels as Nix settings was varied there; what needs this machine was not.
    applied = {p["name"] for p in report["perturbations"]}
    assert {"build-dir", "cores", "kernel", "timezone"} <= applied
    not_perturbed = {p["name"]: p["reason"] for p in report["not_perturbed"]}
    assert "remote store" in not_perturbed["cpus"] and "remote store" in not_perturbed["file-order"]
    assert "store A" in not_perturbed["environment"] and "store A" in not_perturbed["umask"]
    assert "ssh-ng://" in result.stderr  # progress names the store each run builds in


def test_remote_reproducible_closure_and_a_used_store_is_refused(
    far_side: LoopbackSsh, tmp_path: Path
) -> None:
    flake = fixture_flake("chain", tmp_path)
    stores = [
        "--store-a",
        far_side.store_url("store-a"),
        "--store-b",
        far_side.store_url("store-b"),
    ]
    first = verify(f"path:{flake}", *stores, "-q", tmpdir=tmp_path / "tmp")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "verdict: reproducible: all 3 derivations are bit-identical" in first.stdout
    assert remote_outputs(far_side, "store-b", "third")  # user-named stores are kept
    again = verify(f"path:{flake}", *stores, "-q", tmpdir=tmp_path / "tmp")
    assert again.returncode == 2 and "already holds" in again.stderr
