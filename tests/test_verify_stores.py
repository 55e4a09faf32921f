"""Store URLs, perturbation settings and clean-up of read-only chroot stores (no Nix)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyproject2nix.errors import InputError
from pyproject2nix.verify.stores import (
    BUILD_DIR_A,
    BUILD_DIR_B,
    Workspace,
    chroot_store,
    describe_perturbations,
    parse_store,
    remove_tree,
    run_settings,
)


def test_store_urls_and_their_roots(tmp_path: Path) -> None:
    assert parse_store("local?root=/tmp/sa").root == Path("/tmp/sa")
    assert parse_store("/tmp/sb").root == Path("/tmp/sb")
    assert parse_store("ssh-ng://builder").root is None
    assert parse_store("daemon").root is None
    store = chroot_store(tmp_path)
    assert store.url == f"local?root={tmp_path}"
    assert store.real_path("/nix/store/abc-x") == tmp_path / "nix/store/abc-x"
    with pytest.raises(InputError):
        parse_store(" ")


def test_second_run_is_perturbed(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path, keep=True)
    run_a, run_b = run_settings(workspace, perturb=True)
    assert run_a.nix_settings["sandbox-build-dir"] == BUILD_DIR_A == "/build"
    assert run_b.nix_settings["sandbox-build-dir"] == BUILD_DIR_B
    assert run_a.nix_settings["cores"] == "1" != run_b.nix_settings["cores"]
    assert run_a.tmpdir != run_b.tmpdir and run_b.tmpdir.is_dir()
    for run in (run_a, run_b):  # never a binary cache's or a remote builder's copy
        assert (run.nix_settings["substitute"], run.nix_settings["builders"]) == ("false", "")
    names = [p.name for p in describe_perturbations(run_a, run_b)]
    assert names == ["clock", "build-dir", "cores", "max-jobs", "environment"]


def test_no_perturb_keeps_only_the_clock(tmp_path: Path) -> None:
    run_a, run_b = run_settings(Workspace(tmp_path, keep=True), perturb=False)
    assert run_a.nix_settings == run_b.nix_settings
    assert [p.name for p in describe_perturbations(run_a, run_b)] == ["clock"]


def test_remove_tree_handles_read_only_store_files(tmp_path: Path) -> None:
    store = tmp_path / "store-a" / "nix" / "store"
    output = store / "abc-out" / "share"
    output.mkdir(parents=True)
    (output / "file").write_text("x")
    (output / "file").chmod(0o444)
    (store / "abc-out" / "link").symlink_to("/nonexistent")
    for directory in (output, output.parent):
        directory.chmod(0o555)
    remove_tree(tmp_path / "store-a")
    assert not (tmp_path / "store-a").exists()
    remove_tree(tmp_path / "never-made")  # nothing to do


def test_workspace_cleanup_unless_kept(tmp_path: Path) -> None:
    kept = Workspace(tmp_path / "kept", keep=True)
    kept.directory("store-a")
    kept.cleanup()
    assert (tmp_path / "kept" / "store-a").is_dir()
    gone = Workspace(tmp_path / "gone", keep=False)
    gone.directory("store-a")
    stray = tmp_path / "x.check"
    stray.mkdir()
    gone.extra_paths.append(stray)
    gone.cleanup()
    assert not (tmp_path / "gone").exists() and not stray.exists()
