"""The overrides file in real builds: env, patches, stdenv, and the failure naming the fix.

Two sdists made here and served from a loopback index: ``demo-env``, whose
setup.py bakes an environment variable into a module and whose ``extra.py`` a
project patch changes; ``demo-native``, a C extension that cannot build with
the interpreter alone (no compiler), whose failure must suggest the override.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import run_nix, run_p2n
from tests.support.localindex import build_sdist, serve, uv, write_simple_index

pytestmark = pytest.mark.nix

ENV_SETUP = """\
import os, shutil
from setuptools import setup

with open("demo_env.py", "w") as module:
    module.write(f"GREETING = {os.environ.get('DEMO_GREETING', 'unset')!r}\\n")
    module.write(f"STDENV = {os.environ.get('stdenvBuild') == '1'}\\n")
    module.write(f"PATCHELF_ON_PATH = {shutil.which('patchelf') is not None}\\n")
setup(name="demo-env", version="1.0", py_modules=["demo_env", "extra"])
"""

NATIVE_SETUP = """\
from setuptools import Extension, setup

setup(name="demo-native", version="1.0", ext_modules=[Extension("demo_native", ["native.c"])])
"""

PATCH = """\
--- a/extra.py
+++ b/extra.py
@@ -1 +1 @@
-PATCHED = False
+PATCHED = True
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    scratch = tmp_path_factory.mktemp("override-sdists")
    env_src = scratch / "src" / "demo-env"
    env_src.mkdir(parents=True)
    (env_src / "setup.py").write_text(ENV_SETUP)
    (env_src / "extra.py").write_text("PATCHED = False\n")
    native_src = scratch / "src" / "demo-native"
    native_src.mkdir(parents=True)
    (native_src / "setup.py").write_text(NATIVE_SETUP)
    (native_src / "native.c").write_text("#include <Python.h>\n")
    (native_src / "MANIFEST.in").write_text("include native.c\n")
    files = [build_sdist(s, scratch / "dist", scratch / "work") for s in (env_src, native_src)]
    write_simple_index(files, scratch / "index")
    with serve(scratch / "index") as url:
        project = scratch / "consumer"
        (project / "patches").mkdir(parents=True)
        (project / "patches" / "extra.patch").write_text(PATCH)
        (project / "pyproject.toml").write_text(
            '[project]\nname = "consumer"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
            'dependencies = ["demo-env", "demo-native"]\n\n'
            f'[[tool.uv.index]]\nname = "local"\nurl = "{url}/simple/"\n\n'
            '[tool.p2n.packages.demo-env]\nenv = { DEMO_GREETING = "from the overrides" }\n'
            'patches = ["patches/extra.patch"]\nnative-build-inputs = ["patchelf"]\n'
        )
        subprocess.run([uv(), "lock", "--quiet"], cwd=project, check=True, capture_output=True)
        result = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
        assert result.returncode == 0, result.stderr
        yield project


def test_env_and_patches_reach_the_build(project: Path, standin_override: list[str]) -> None:
    out = project / "result-env"
    result = run_nix("build", f"path:{project}#demo-env", *standin_override, "-o", str(out))
    assert result.returncode == 0, result.stderr
    site = next((out / "lib").glob("python3.*/site-packages"))
    # Built as the build phase of stdenv.mkDerivation, with the native build input on PATH.
    assert (site / "demo_env.py").read_text() == (
        "GREETING = 'from the overrides'\nSTDENV = True\nPATCHELF_ON_PATH = True\n"
    )
    assert (site / "extra.py").read_text() == "PATCHED = True\n"


def test_failed_native_build_suggests_the_override(
    project: Path, standin_override: list[str]
) -> None:
    result = run_nix("build", f"path:{project}#demo-native", *standin_override, "--no-link")
    assert result.returncode != 0
    assert "building demo-native from source failed" in result.stderr
    assert "cause: a compiler is needed" in result.stderr
    assert "[tool.p2n.packages.demo-native] stdenv = true" in result.stderr
