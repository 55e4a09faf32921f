"""Store URLs and clean-up of read-only chroot stores (no Nix)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyproject2nix.errors import InputError
from pyproject2nix.verify.stores import (
    Workspace,
    chroot_store,
    parse_store,
    remove_tree,
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


def test_scratch_paths_go_even_when_the_stores_are_kept(tmp_path: Path) -> None:
    kept = Workspace(tmp_path / "kept", keep=True)
    kept.directory("store-a")
    backing = tmp_path / "p2n-verify-order-x"  # disorderfs's backing dir, outside the root
    backing.mkdir()
    kept.scratch_paths.append(backing)
    kept.cleanup()
    assert (tmp_path / "kept" / "store-a").is_dir() and not backing.exists()


def test_cleanup_removes_chroot_stores_path_by_path_and_waits_for_early_removals(
    tmp_path: Path,
) -> None:
    workspace = Workspace(tmp_path / "w", keep=False)
    for name in ("store-a", "store-b"):
        store = workspace.directory(name, "nix", "store")
        for path in ("aaa-one", "bbb-two"):
            (store / path).mkdir()
            (store / path / "file").write_text(path)
            (store / path / "file").chmod(0o444)
            (store / path).chmod(0o555)
        store.chmod(0o775)  # as Nix leaves it (sticky and group-writable on real stores)
    workspace.remove_early(tmp_path / "w" / "store-b")
    workspace.cleanup()
    assert not (tmp_path / "w").exists()
    assert all(not thread.is_alive() for thread in workspace.removals)


def test_nothing_is_removed_early_when_kept(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "w", keep=True)
    store_b = workspace.directory("store-b", "nix", "store")
    workspace.remove_early(store_b)
    workspace.cleanup()
    assert store_b.is_dir() and workspace.removals == []
