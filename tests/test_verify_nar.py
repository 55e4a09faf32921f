"""verify's NAR writer against hashes ``nix hash path`` printed for the same trees (no Nix here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyproject2nix.verify.envcheck import nar_hash
from pyproject2nix.verify.nar import dump

# `nix hash path` (Nix 2.8) of the trees made below.
HELLO_FILE = "sha256-HDfQGvQL4ugGkd48w99EN3ppmvuxfGjwgJZLL9Bx/BM="
SCRIPT_FILE = "sha256-YoPBZoJg+QPRqJXAzWuCL6S2h2K7CxfO3vLTnZfiZVQ="
TREE = "sha256-0szm0fFTVRK0OuKttO4yjdkISUT98UUoMdCsssfVanI="


def make_tree(root: Path) -> Path:
    """Regular, empty, executable files, relative and absolute symlinks, nested and empty dirs."""
    tree = root / "d"
    (tree / "e").mkdir(parents=True)
    (tree / "emptydir").mkdir()
    (tree / "a").write_bytes(b"hello\n")
    (tree / "empty").write_bytes(b"")
    (tree / "x").write_bytes(b"#!/bin/sh\n")
    (tree / "x").chmod(0o755)
    (tree / "e" / "eight").write_bytes(b"12345678")  # no padding
    os.symlink("a", tree / "link")
    os.symlink("/nix/store/abc", tree / "abs")
    return tree


def test_nar_of_files_and_a_tree_hashes_as_nix_does(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    assert nar_hash(dump(tree / "a")) == HELLO_FILE
    assert nar_hash(dump(tree / "x")) == SCRIPT_FILE
    assert nar_hash(dump(tree)) == TREE


def test_nar_framing_is_length_prefixed_and_padded(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"abc")
    nar = dump(tmp_path / "f")
    assert nar.startswith((13).to_bytes(8, "little") + b"nix-archive-1\0\0\0")
    assert (3).to_bytes(8, "little") + b"abc\0\0\0\0\0" in nar
    assert len(nar) % 8 == 0


def test_nar_refuses_what_a_store_cannot_hold(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ValueError, match="not a regular file"):
        dump(tmp_path / "fifo")
