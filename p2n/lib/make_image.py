"""Builder of ``image.nix``: an OCI image archive of the environment's closure.

Runs with the target interpreter as the builder (stdlib only). The closure
comes from Nix (``exportReferencesGraph``); it is split into three layers,
changing from least to most often: the interpreter's closure, the rest of the
dependencies, and the project with the environment. Every tar entry is made
from ``lstat`` alone, in sorted order, with mtime 1, owner 0:0 and no user or
group names, and files are always stored whole (never as hard links, which
depend on the store's optimisation), so the same closure gives the same
bytes on any machine. Layers are uncompressed (gzip would add its own
header to keep stable and buys nothing in a store).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import sys
import tarfile
from pathlib import Path

MTIME = 1  # what Nix gives every store file
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def closure(graph: Path) -> set[str]:
    """Store paths listed in an ``exportReferencesGraph`` file (path, deriver, n, n refs)."""
    lines = graph.read_text().splitlines()
    paths: set[str] = set()
    i = 0
    while i < len(lines):
        paths.add(lines[i])
        count = int(lines[i + 2])
        i += 3 + count
    return paths


def _info(name: str, st: os.stat_result) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = stat.S_IMODE(st.st_mode)
    return info


def _add(tar: tarfile.TarFile, path: str) -> None:
    """``path`` and everything below it, sorted, without following symlinks."""
    st = os.lstat(path)
    info = _info(path.lstrip("/"), st)
    if stat.S_ISLNK(st.st_mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(path)
        info.mode = 0o777
        tar.addfile(info)
    elif stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        for child in sorted(os.listdir(path)):
            _add(tar, os.path.join(path, child))
    elif stat.S_ISREG(st.st_mode):
        info.size = st.st_size
        with open(path, "rb") as file:
            tar.addfile(info, file)
    else:
        raise SystemExit(f"p2n image: {path}: not a file, directory or symlink")


def _directory(tar: tarfile.TarFile, name: str, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mtime = MTIME
    info.mode = mode
    tar.addfile(info)


def write_layer(target: Path, paths: list[str], extra_dirs: tuple[tuple[str, int], ...]) -> None:
    """One layer: /nix/store's parents, then each store path whole."""
    with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, mode in (("nix", 0o755), ("nix/store", 0o755), *extra_dirs):
            _directory(tar, name, mode)
        for path in sorted(paths):
            _add(tar, path)


class Blobs:
    """Content-addressed blobs of the OCI layout, in memory or as files."""

    def __init__(self) -> None:
        self.files: dict[str, Path | bytes] = {}

    def add_bytes(self, data: bytes, media_type: str) -> dict[str, object]:
        digest = hashlib.sha256(data).hexdigest()
        self.files[digest] = data
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}

    def add_file(self, path: Path, media_type: str) -> dict[str, object]:
        sha = hashlib.sha256()
        with open(path, "rb") as file:
            for chunk in iter(lambda: file.read(1 << 20), b""):
                sha.update(chunk)
        digest = sha.hexdigest()
        self.files[digest] = path
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": path.stat().st_size}


def _json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _archive_entry(tar: tarfile.TarFile, name: str, data: Path | bytes) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = MTIME
    info.mode = 0o444
    if isinstance(data, bytes):
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        info.size = data.stat().st_size
        with open(data, "rb") as file:
            tar.addfile(info, file)


def main() -> None:
    env = os.environ
    work = Path(env["TMPDIR"])
    interpreter = closure(Path("interpreter-closure"))
    everything = closure(Path("environment-closure"))
    project = {p for p in env.get("projectPaths", "").split() if p} | {env["environment"]}
    layers = [
        ("the interpreter", sorted(interpreter)),
        ("the dependencies", sorted(everything - interpreter - project)),
        ("the project and its environment", sorted(project)),
    ]
    blobs = Blobs()
    descriptors = []
    for number, (_, paths) in enumerate(layers):
        target = work / f"layer{number}.tar"
        # Mount points a runtime (or bwrap on a read-only root) expects to exist.
        top = (("dev", 0o755), ("proc", 0o755), ("tmp", 0o1777))
        write_layer(target, paths, top if number == len(layers) - 1 else ())
        descriptors.append(blobs.add_file(target, OCI_LAYER))
    entrypoint = json.loads(env["entrypointJSON"])
    config = {
        "architecture": env["architecture"],
        "os": "linux",
        "config": {
            "Entrypoint": entrypoint,
            "Env": [f"PATH={env['environment']}/bin", "LANG=C.UTF-8"],
            "WorkingDir": "/",
        },
        "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descriptors]},
        "history": [{"created_by": f"p2n: {what}"} for what, _ in layers],
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": blobs.add_bytes(_json(config), OCI_CONFIG),
        "layers": descriptors,
    }
    manifest_descriptor = blobs.add_bytes(_json(manifest), OCI_MANIFEST)
    manifest_descriptor["annotations"] = {"org.opencontainers.image.ref.name": env["tag"]}
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [manifest_descriptor]}
    with tarfile.open(env["out"], "w", format=tarfile.PAX_FORMAT) as tar:
        _directory(tar, "blobs", 0o755)
        _directory(tar, "blobs/sha256", 0o755)
        for digest in sorted(blobs.files):
            _archive_entry(tar, f"blobs/sha256/{digest}", blobs.files[digest])
        _archive_entry(tar, "index.json", _json(index))
        _archive_entry(tar, "oci-layout", _json({"imageLayoutVersion": "1.0.0"}))
    print(
        f"p2n image: {len(everything)} store paths in {len(layers)} layers, "
        f"entrypoint {' '.join(entrypoint)}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
