"""nix/bytecode.py: parallel byte-compilation whose bytes do not depend on the workers.

Runs the library file the way the builders do (loaded by path, in a fresh
interpreter with ``PYTHONHASHSEED=0``), without Nix; the real-Nix check is in
test_example_nix.py (the same package rebuilt with another ``cores``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.helpers import REPO

BYTECODE = REPO / "nix" / "bytecode.py"

# Compiles the tree argv[1] with argv[2] cores, prints {relative pyc path: hex bytes}.
_RUNNER = """
import importlib.util, json, os, sys
spec = importlib.util.spec_from_file_location("p2n_bytecode", sys.argv[3])
bytecode = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = bytecode
spec.loader.exec_module(bytecode)
root, cores = sys.argv[1], int(sys.argv[2])
compiled = bytecode.compile_tree(root, bytecode.CHECKED_HASH, cores)
pycs = {}
for directory, _, files in os.walk(root):
    for name in files:
        if name.endswith(".pyc"):
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                pycs[os.path.relpath(path, root)] = handle.read().hex()
print(json.dumps({"compiled": compiled, "pycs": pycs}))
"""


def _write_tree(root: Path, modules: int, names: bool = True) -> None:
    """Modules whose pycs would depend on compile order without the module's precautions.

    A name made of one latin-1 character (``Ø``) gets interned when compiled, and
    stays interned in that process; the same character as a plain string constant
    in a later module is then marshalled as interned. Sets depend on the hash seed.
    The tree is always written at ``root``: a pyc holds its source's path.
    """
    shutil.rmtree(root, ignore_errors=True)
    package = root / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for number in range(modules):
        body = [f'"""Module {number}."""', f"VALUE_{number} = {number}"]
        if names and number % 7 == 3:
            body.append("Ø = 'x'\nµ = 1\n")
        if number % 5 == 1:
            body.append("TABLE = {'\\\\O': 'Ø', '\\\\u': 'µ', 'plain': 'é'}")
        body.append(f"def check(x):\n    return x in {{'a{number}', 'b', 'c', 'Ø'}}\n")
        # Modules of many sizes (workers take the largest first), ~800 KiB in all: 3 workers.
        body.extend(
            f"def f{i}(a, b=({i}, 'é')):\n    return a * {i} + len(b)\n"
            for i in range(number % 140)
        )
        (package / f"m{number:03}.py").write_text("\n".join(body) + "\n", encoding="utf-8")
    (package / "broken.py").write_text("def broken(:\n")


def _compile(root: Path, cores: int, parallel: bool = True) -> dict[str, Any]:
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(root), str(cores), str(BYTECODE)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "broken.py" in result.stderr  # reported, not fatal, as compileall does
    assert f"workers: {min(cores, 3) if parallel else 0}" in result.stdout
    parsed: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return parsed


def test_bytes_are_the_same_for_any_number_of_workers(tmp_path: Path) -> None:
    results = {}
    for cores in (1, 2, 3):
        _write_tree(tmp_path / "tree", 240)
        results[cores] = _compile(tmp_path / "tree", cores)
    assert results[1]["compiled"] == 241  # every module but the broken one
    assert results[2] == results[1] and results[3] == results[1]


def test_a_module_compiles_to_the_same_bytes_whatever_was_compiled_before(tmp_path: Path) -> None:
    """Compiling the names Ø and µ earlier in the same worker does not leak into later pycs."""
    _write_tree(tmp_path / "tree", 240)
    after_names = _compile(tmp_path / "tree", 1)["pycs"]
    _write_tree(tmp_path / "tree", 240, names=False)
    without_names = _compile(tmp_path / "tree", 1)["pycs"]
    _write_tree(tmp_path / "tree", 12)
    small_tree = _compile(tmp_path / "tree", 2, parallel=False)["pycs"]  # in this process
    assert all(after_names[name] == pyc for name, pyc in small_tree.items())
    tag = sys.implementation.cache_tag
    same_source = [f"pkg/__pycache__/m{n:03}.{tag}.pyc" for n in range(240) if n % 7 != 3]
    assert all(after_names[name] == without_names[name] for name in same_source)


def test_pycs_are_checked_hash_based(tmp_path: Path) -> None:
    _write_tree(tmp_path / "tree", 3)
    pycs = _compile(tmp_path / "tree", 1, parallel=False)["pycs"]
    assert pycs
    for pyc in pycs.values():
        flags = int.from_bytes(bytes.fromhex(pyc)[4:8], "little")
        assert flags == 0b11, "hash-based, checked against the source"
