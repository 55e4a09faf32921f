"""nix/make_image.py's layers: the same tree gives the same bytes whatever the host did to it."""

from __future__ import annotations

import importlib.util
import os
import tarfile
from pathlib import Path
from types import ModuleType

from tests.helpers import REPO


def _make_image() -> ModuleType:
    spec = importlib.util.spec_from_file_location("p2n_make_image", REPO / "nix" / "make_image.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(root: Path, *, hardlink: bool, mtime: int, order: list[str]) -> Path:
    """A fake store path; files created in ``order`` (directory order may follow it)."""
    path = root / "nix" / "store" / "abc-pkg"
    (path / "bin").mkdir(parents=True)
    for name in order:
        (path / name).write_text(f"content of {name}\n")
    (path / "bin" / "run").write_text("#!/bin/sh\n")
    (path / "bin" / "run").chmod(0o555)
    (path / "bin" / "link").symlink_to("run")
    if hardlink:
        os.link(path / "a", path / "same")
    else:
        (path / "same").write_text("content of a\n")
    for file in path.rglob("*"):
        if not file.is_symlink():
            os.utime(file, (mtime, mtime))
    return path


def test_layers_are_byte_identical_across_hosts(tmp_path: Path) -> None:
    make_image = _make_image()
    one = _tree(tmp_path / "one", hardlink=True, mtime=1_700_000_000, order=["a", "b", "c"])
    two = _tree(tmp_path / "two", hardlink=False, mtime=5, order=["c", "a", "b"])
    layers = []
    for source in (one, two):
        cwd = Path.cwd()
        os.chdir(source.parents[2])  # the layer names store paths relative to /
        try:
            target = tmp_path / f"{source.parents[2].name}.tar"
            make_image.write_layer(target, ["nix/store/abc-pkg"], (("tmp", 0o1777),))
        finally:
            os.chdir(cwd)
        layers.append(target.read_bytes())
    assert layers[0] == layers[1]
    with tarfile.open(tmp_path / "one.tar") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names[:3] == ["nix", "nix/store", "tmp"]
    assert names[3:] == sorted(names[3:])
    assert {m.mtime for m in members} == {1}
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}
    assert not any(m.islnk() for m in members)  # a store's hard links are stored as files
    link = next(m for m in members if m.name.endswith("bin/link"))
    assert link.issym() and link.linkname == "run"


def test_closure_graph_parsing(tmp_path: Path) -> None:
    graph = tmp_path / "graph"
    graph.write_text(
        "/nix/store/a-x\n/nix/store/d-x.drv\n2\n/nix/store/a-x\n/nix/store/b-y\n"
        "/nix/store/b-y\n\n0\n"
    )
    assert _make_image().closure(graph) == {"/nix/store/a-x", "/nix/store/b-y"}
