"""Byte-compile a tree of modules with several processes; the bytes never depend on how many.

Loaded by the builders (install_wheel.py, unpack_installer.py) from the path
in ``bytecodeScript``. ``compile_tree(root, mode, cores)`` writes
``__pycache__/*.cpython-XY.pyc`` (optimization level 0, hash-based: ``mode``
is ``CHECKED_HASH`` for packages, as installer wrote them with
``SOURCE_DATE_EPOCH``) for every ``*.py`` file under ``root``, as PyPA
installer's compileall did, with up to ``cores`` (``NIX_BUILD_CORES``) processes.

A pyc is written as py_compile writes it (PEP 552: magic number, flags, the
source's hash, ``marshal.dumps`` of ``compile(source, path, "exec",
dont_inherit=True)``), from public ``importlib.util`` functions, without
importing py_compile (and with it enum, traceback, ...) in every build.
Workers are plain ``os.fork`` children, not a multiprocessing pool (whose
import and start cost ~70 ms of CPU per package).

Why the output does not depend on the number of workers or on which worker
compiled which file:

- marshal marks a string as interned (``TYPE_INTERNED``) if it is interned in
  the compiling process. The one-character latin-1 strings are process-wide
  singletons that stay interned once any compiled module used one as a name,
  so a pyc would depend on what its worker compiled before. They are all
  interned before the first file.
- marshal flags objects referenced elsewhere in the process (``FLAG_REF``):
  workers are forked from this process (never spawned: a fresh interpreter
  holds other objects), and whether a tree is compiled by forked workers or
  in this process depends on its size alone, never on ``cores``: every file
  is compiled in the same state.
- ``PYTHONHASHSEED`` (set by the derivation) fixes the order of set constants.
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import sys
from typing import Literal

Mode = Literal["checked-hash", "unchecked-hash"]
CHECKED_HASH: Mode = "checked-hash"
UNCHECKED_HASH: Mode = "unchecked-hash"

# Measured on 2 cores (CPython 3.11, ~6-9 KiB of source per ms): forking a
# worker costs ~2-5 ms, so trees under PARALLEL_BYTES of source (~30 ms of
# compiling) are compiled in this process; above, one worker per
# BYTES_PER_WORKER, at most ``cores``.
PARALLEL_BYTES = 256 * 1024
BYTES_PER_WORKER = 128 * 1024


def python_files(root: str) -> dict[str, int]:
    """Every ``*.py`` file under ``root`` and its size, not following directory links."""
    found: dict[str, int] = {}
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            path = os.path.join(directory, name)
            if name.endswith(".py") and os.path.isfile(path):
                found[path] = os.path.getsize(path)
    return found


def _intern_latin1() -> None:
    for code in range(256):
        sys.intern(chr(code))


def pyc_bytes(source: bytes, path: str, mode: Mode) -> bytes:
    """The pyc of ``source`` (at ``path``), byte for byte as ``py_compile.compile`` writes it."""
    code = compile(source, path, "exec", dont_inherit=True, optimize=0)
    flags = 0b01 | (0b10 if mode == CHECKED_HASH else 0)
    return b"".join(
        (
            importlib.util.MAGIC_NUMBER,
            flags.to_bytes(4, "little"),
            importlib.util.source_hash(source),
            marshal.dumps(code),
        )
    )


def _compile_one(path: str, mode: Mode, made: set[str]) -> str | None:
    """Write ``path``'s pyc; the error message if it does not compile (as compileall, go on)."""
    try:
        with open(path, "rb") as handle:
            source = handle.read()
        # Whatever compile() raises (SyntaxError, ValueError for NUL bytes, ...),
        # as py_compile turns every exception of it into PyCompileError.
        data = pyc_bytes(source, path, mode)
        cached = importlib.util.cache_from_source(path)
        directory = os.path.dirname(cached)
        if directory not in made:
            os.makedirs(directory, exist_ok=True)
            made.add(directory)
        with open(cached, "wb") as handle:
            handle.write(data)
    except Exception as error:  # reported, as compileall does
        return f"*** Error compiling {path!r}...\n{error.__class__.__name__}: {error}"
    return None


def _compile_all(paths: list[str], mode: Mode) -> list[str]:
    made: set[str] = set()
    results = (_compile_one(path, mode, made) for path in paths)
    return [message for message in results if message is not None]


def workers_for(files: int, source_bytes: int, cores: int) -> int:
    """How many forked processes compile the tree: 0 means this one, whatever ``cores`` is."""
    if files < 2 or source_bytes < PARALLEL_BYTES:
        return 0
    return max(1, min(cores, source_bytes // BYTES_PER_WORKER))


def shares(sizes: dict[str, int], workers: int) -> list[list[str]]:
    """The files split into ``workers`` lists of about equal source size, largest first."""
    split: list[list[str]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for path in sorted(sizes, key=lambda path: (-sizes[path], path)):
        lightest = loads.index(min(loads))
        split[lightest].append(path)
        loads[lightest] += sizes[path]
    return split


def _compile_forked(split: list[list[str]], mode: Mode) -> list[str]:
    """Compile each share in a forked child; their error messages, read from pipes."""
    sys.stdout.flush()
    sys.stderr.flush()
    children: list[tuple[int, int]] = []
    for share in split:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: compile, report, leave without Python's shutdown
            status = 1
            try:
                os.close(read_end)
                report = "\0".join(_compile_all(share, mode)).encode("utf-8", "backslashreplace")
                with os.fdopen(write_end, "wb") as pipe:
                    pipe.write(report)
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        children.append((pid, read_end))
    errors: list[str] = []
    crashed = 0
    for pid, read_end in children:
        with os.fdopen(read_end, "rb") as pipe:
            received = pipe.read().decode("utf-8")
        errors.extend(message for message in received.split("\0") if message)
        _, status = os.waitpid(pid, 0)
        crashed += os.waitstatus_to_exitcode(status) != 0
    if crashed:
        raise RuntimeError(f"p2n: {crashed} byte-compiling worker(s) failed")
    return errors


def build_cores() -> int:
    """``NIX_BUILD_CORES`` (0: every core the build may use)."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    try:
        cores = int(os.environ.get("NIX_BUILD_CORES", "1"))
    except ValueError:
        cores = 1
    return available if cores <= 0 else min(cores, available)


def compile_tree(root: str, mode: Mode, cores: int) -> int:
    """Byte-compile every module under ``root``; return how many were compiled."""
    _intern_latin1()
    sizes = python_files(root)
    files = sorted(sizes)
    workers = workers_for(len(files), sum(sizes.values()), cores)
    if workers == 0:
        errors = _compile_all(files, mode)
    else:
        errors = _compile_forked(shares(sizes, workers), mode)
    failed = sorted(errors)
    for error in failed:
        print(error, file=sys.stderr)
    compiled = len(files) - len(failed)
    print(f"p2n: byte-compiled {compiled} of {len(files)} modules, workers: {workers}")
    return compiled
