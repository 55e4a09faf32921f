"""Builder of ``checks.<system>.imports``: import every top-level module of the environment.

Inputs: ``environment`` (the venv-shaped environment), ``sitePackages``.
Top-level names come from each distribution's ``RECORD`` (``foo/__init__.py``
gives ``foo``, ``bar.py`` and ``bar.cpython-311-x86_64-linux-gnu.so`` give
``bar``); a distribution without ``RECORD`` (a project installed by a ``.pth``
file) is skipped. The imports run in the environment's own ``bin/python``, a
fresh process, so the check sees what a user of the environment sees.
Writes the imported names to ``$out``; exits 1 naming every module that fails.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys

SKIPPED = frozenset(
    {"test", "tests", "testing", "doc", "docs", "example", "examples", "benchmarks"}
    | {"conftest", "setup"}
)

_RUNNER = r"""
import importlib, sys, traceback
failed = 0
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        failed += 1
        print(f"p2n check: import {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
sys.exit(1 if failed else 0)
"""


def top_level_names(site_packages: str) -> list[str]:
    """Importable top-level names listed by the RECORD files under ``site_packages``."""
    names: set[str] = set()
    for entry in sorted(os.listdir(site_packages)):
        record = os.path.join(site_packages, entry, "RECORD")
        if not entry.endswith(".dist-info") or not os.path.isfile(record):
            continue
        with open(record, newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                if row:
                    names.update(_module_of(row[0]))
    return sorted(name for name in names if name not in SKIPPED)


def _module_of(path: str) -> list[str]:
    """The top-level module a RECORD path belongs to (none for metadata and scripts)."""
    first, _, rest = path.partition("/")
    if first.endswith((".dist-info", ".data")) or first in ("..", "__pycache__", ""):
        return []
    if rest:  # a package directory (namespace packages too)
        return [first] if first.isidentifier() and rest.endswith((".py", ".so")) else []
    if first.endswith(".py") or first.endswith(".so"):
        module = first.split(".", 1)[0]
        return [module] if module.isidentifier() else []
    return []


def main() -> None:
    environment = os.environ["environment"]
    names = top_level_names(os.path.join(environment, os.environ["sitePackages"]))
    os.environ["HOME"] = os.environ.get("TMPDIR", "/tmp")
    python = os.path.join(environment, "bin", "python")
    result = subprocess.run([python, "-c", _RUNNER, *names], cwd=os.environ["HOME"])
    if result.returncode != 0:
        sys.exit(f"p2n check: {environment}: some modules do not import (above)")
    with open(os.environ["out"], "w", encoding="utf-8") as out:
        out.write("".join(f"{name}\n" for name in names))
    print(f"p2n check: imported {len(names)} top-level modules")


main()
