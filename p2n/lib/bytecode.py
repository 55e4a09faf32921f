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
  holds other objects) and forked whenever a tree has enough files, whatever
  ``cores`` is, so every file is compiled in the same state. Small trees are
  compiled in this process, also whatever ``cores`` is.
- ``PYTHONHASHSEED`` (set by the derivation) fixes the order of set constants.
"""

from __future__ import annotations

import multiprocessing
import os
import py_compile
import sys

CHECKED_HASH = py_compile.PycInvalidationMode.CHECKED_HASH
UNCHECKED_HASH = py_compile.PycInvalidationMode.UNCHECKED_HASH

# Files per worker below which forking does not pay off (a fork and its result
# round trips cost a few ms, a file ~2 ms to compile on average).
FILES_PER_WORKER = 48


def python_files(root: str) -> list[str]:
    """Every ``*.py`` file under ``root``, in a fixed order, not following directory links."""
    found: list[str] = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        found.extend(os.path.join(directory, f) for f in sorted(files) if f.endswith(".py"))
    return [path for path in found if os.path.isfile(path)]


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


def workers_for(files: int, cores: int) -> int:
    """How many processes compile ``files`` files: 0 means this one."""
    if files < 2 * FILES_PER_WORKER:
        return 0
    return max(1, min(cores, files // FILES_PER_WORKER))


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
    files = python_files(root)
    workers = workers_for(len(files), cores)
    if workers == 0:
        errors = [_compile_one(path) for path in files]
    else:
        chunk = max(1, len(files) // (workers * 8))
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            errors = pool.map(_compile_one, files, chunksize=chunk)
    failed = [error for error in errors if error is not None]
    for error in failed:
        print(error, file=sys.stderr)
    compiled = len(files) - len(failed)
    print(f"p2n: byte-compiled {compiled} of {len(files)} modules, workers: {workers}")
    return compiled
