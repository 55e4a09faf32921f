"""Serialise a file tree as a NAR (Nix ARchive), byte for byte as ``nix-store --dump`` does.

verify compares an environment variant's output with run A's after mapping
the variant's own hash parts back (envcheck.py); reading the variant's files
straight from a chroot store's disk spares one ``nix store dump-path``
process per output. The format (Eelco Dolstra's thesis, fig. 5.2): strings
are a little-endian 64-bit length, the bytes, zero padding to 8; a node is
``( type regular [executable ""] contents BYTES )``, ``( type symlink target
T )`` or ``( type directory (entry ( name N node NODE ))* )``, entries sorted
by name bytewise; the archive starts with the string ``nix-archive-1``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def _string(chunks: list[bytes], value: bytes) -> None:
    chunks.append(len(value).to_bytes(8, "little"))
    chunks.append(value)
    padding = -len(value) % 8
    if padding:
        chunks.append(b"\0" * padding)


def _node(chunks: list[bytes], path: bytes) -> None:
    info = os.lstat(path)
    _string(chunks, b"(")
    _string(chunks, b"type")
    if stat.S_ISREG(info.st_mode):
        _string(chunks, b"regular")
        if info.st_mode & stat.S_IXUSR:
            _string(chunks, b"executable")
            _string(chunks, b"")
        _string(chunks, b"contents")
        with open(path, "rb") as file:
            _string(chunks, file.read())
    elif stat.S_ISLNK(info.st_mode):
        _string(chunks, b"symlink")
        _string(chunks, b"target")
        _string(chunks, os.readlink(path))
    elif stat.S_ISDIR(info.st_mode):
        _string(chunks, b"directory")
        for name in sorted(os.listdir(path)):
            _string(chunks, b"entry")
            _string(chunks, b"(")
            _string(chunks, b"name")
            _string(chunks, name)
            _string(chunks, b"node")
            _node(chunks, path + b"/" + name)
            _string(chunks, b")")
    else:
        raise ValueError(f"{os.fsdecode(path)}: not a regular file, symlink or directory")
    _string(chunks, b")")


def dump(path: Path) -> bytes:
    """The NAR serialisation of ``path`` (a file, symlink or directory tree)."""
    chunks: list[bytes] = []
    _string(chunks, b"nix-archive-1")
    _node(chunks, os.fsencode(path))
    return b"".join(chunks)
