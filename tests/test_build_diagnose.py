"""nix/build_wheel.py names why a build from source failed, from the backend's own output.

The outputs are what real backends print in the sandbox (seen while building
real projects with ``sandbox = true``); each cause gets its own fix instead of
the one ``stdenv = true`` hint for everything.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from tests.helpers import REPO


def _load() -> ModuleType:
    path = REPO / "nix" / "build_wheel.py"
    spec = importlib.util.spec_from_file_location("p2n_build_wheel", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_wheel = _load()


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            "LookupError: Error getting the version from source `vcs`: setuptools-scm was "
            "unable to detect version for /build/source/x.",
            "cause: the version comes from git",
        ),
        (
            "Error getting the version from source 'uv-dynamic-versioning': Unable to find "
            "'git' program",
            "cause: the version comes from git",
        ),
        (
            "error: command 'x86_64-linux-gnu-gcc' failed: No such file or directory",
            "cause: a compiler is needed",
        ),
        ("../meson.build:1:0: ERROR: Unknown compiler(s): [['cc'], ['gcc']]", "a compiler"),
        (
            "ImportError: libssl.so.3: cannot open shared object file: No such file or directory",
            "cause: a native library is missing (ImportError: libssl.so.3",
        ),
        (
            "FileNotFoundError: [Errno 2] No such file or directory: '/build/env/bin/uv-build'",
            'build-requires = ["uv-build"]',
        ),
        ("/bin/sh: 1: cmake: not found", 'native-build-inputs = ["cmake"]'),
        (
            "FileNotFoundError: [Errno 2] No such file or directory: 'README.md'",
            "a file the build needs is missing from the source",
        ),
        (
            "error: could not create 'demo.egg-info': Permission denied",
            "cause: the build wrote where it may not",
        ),
        ("SyntaxError: invalid syntax", "stdenv = true"),
    ],
)
def test_each_cause_gets_its_fix(output: str, expected: str) -> None:
    lines = build_wheel.diagnose(f"building...\n{output}\nTraceback ends\n", "demo", False)
    assert len(lines) == 1
    assert expected in lines[0]
    assert lines[0].startswith("p2n: ")


def test_a_compiler_hint_names_the_package_override() -> None:
    [line] = build_wheel.diagnose("error: command 'gcc' failed", "demo-native", False)
    assert "[tool.p2n.packages.demo-native] stdenv = true" in line
