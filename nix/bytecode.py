"""Byte-compile a tree of modules with several processes; the bytes never depend on how many.

Loaded by the builders (install_wheel.py, unpack_installer.py) from the path
in ``bytecodeScript``. ``compile_tree(root, mode, cores)`` writes
``__pycache__/*.cpython-XY.pyc`` (optimization level 0, hash-based: ``mode``
is ``CHECKED_HASH`` for packages, as installer wrote them with
``SOURCE_DATE_EPOCH``) for every ``*.py`` file under ``root``, as PyPA
installer's compileall did, with up to ``cores`` (``NIX_BUILD_CORES``) processes.

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

import os
import py_compile
import sys

CHECKED_HASH = py_compile.PycInvalidationMode.CHECKED_HASH
UNCHECKED_HASH = py_compile.PycInvalidationMode.UNCHECKED_HASH

# Measured on 2 cores (CPython 3.11, ~9 KiB of source per ms): starting a pool
# of workers costs 10-20 ms, so trees under PARALLEL_BYTES of source (~60 ms
# of compiling) are compiled in this process; above, one worker per
# BYTES_PER_WORKER, at most ``cores``.
PARALLEL_BYTES = 512 * 1024
BYTES_PER_WORKER = 256 * 1024


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


_mode = CHECKED_HASH


def _compile_one(path: str) -> str | None:
    """Write ``path``'s pyc; the error message if it does not compile (as compileall, go on)."""
    try:
        py_compile.compile(path, doraise=True, optimize=0, invalidation_mode=_mode)
    except py_compile.PyCompileError as error:
        return f"*** Error compiling {path!r}...\n{error.msg}"
    except (SyntaxError, UnicodeError, OSError) as error:
        return f"*** Error compiling {path!r}...\n{error.__class__.__name__}: {error}"
    return None


def workers_for(files: int, source_bytes: int, cores: int) -> int:
    """How many forked processes compile the tree: 0 means this one, whatever ``cores`` is."""
    if files < 2 or source_bytes < PARALLEL_BYTES:
        return 0
    return max(1, min(cores, source_bytes // BYTES_PER_WORKER))


def build_cores() -> int:
    """``NIX_BUILD_CORES`` (0: every core the build may use)."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    try:
        cores = int(os.environ.get("NIX_BUILD_CORES", "1"))
    except ValueError:
        cores = 1
    return available if cores <= 0 else min(cores, available)


def compile_tree(root: str, mode: py_compile.PycInvalidationMode, cores: int) -> int:
    """Byte-compile every module under ``root``; return how many were compiled."""
    global _mode
    _mode = mode
    _intern_latin1()
    sizes = python_files(root)
    files = sorted(sizes)
    workers = workers_for(len(files), sum(sizes.values()), cores)
    if workers == 0:
        errors = [_compile_one(path) for path in files]
    else:
        # Imported only here, before forking, so both paths keep their own fixed state.
        import multiprocessing

        largest_first = sorted(files, key=lambda path: (-sizes[path], path))
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            errors = list(pool.imap_unordered(_compile_one, largest_first))
    failed = sorted(error for error in errors if error is not None)
    for error in failed:
        print(error, file=sys.stderr)
    compiled = len(files) - len(failed)
    print(f"p2n: byte-compiled {compiled} of {len(files)} modules, workers: {workers}")
    return compiled
