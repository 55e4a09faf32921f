"""Programs inside wheels run in the sandbox: in installed packages and in build environments.

ninja's and uv_build's manylinux wheels ship ELF programs whose interpreter is
``/lib64/ld-linux-x86-64.so.2``; the sandbox (and NixOS) has no such file, so
unpatched they fail with ``FileNotFoundError``. A ``uv init --package``-shaped
project (backend uv_build, whose ``uv-build`` program builds it) depending on
ninja is generated and built; a derivation then runs ``ninja`` and the
project's console script inside the sandbox.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import run_nix, run_p2n
from tests.support.localindex import uv

pytestmark = pytest.mark.nix

EXCLUDE_NEWER = "2026-11-01T00:00:00Z"

PYPROJECT = """\
[project]
name = "wheelprog"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["ninja==1.13.0"]

[project.scripts]
wheelprog = "wheelprog:main"

[build-system]
requires = ["uv_build>=0.8,<0.14"]
build-backend = "uv_build"
"""

PROBE_FLAKE = """\
{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
  inputs.project.url = "path:@project@";
  inputs.project.inputs.nixpkgs.follows = "nixpkgs";

  outputs = { self, nixpkgs, project }:
    let
      system = "x86_64-linux";
      env = project.packages.${system}.default;
    in
    {
      packages.${system}.default = derivation {
        name = "wheel-program-probe";
        inherit system;
        builder = "${env}/bin/python";
        args = [ "-c" ''
          import json, os, subprocess
          run = lambda *cmd: subprocess.run(cmd, capture_output=True, text=True, check=True)
          report = {
              "ninja": run("${env}/bin/ninja", "--version").stdout.strip(),
              "script": run("${env}/bin/wheelprog").stdout.strip(),
          }
          with open(os.environ["out"], "w") as out:
              json.dump(report, out)
        '' ];
      };
    };
}
"""


def test_wheel_programs_run_in_the_sandbox(tmp_path: Path, standin_override: list[str]) -> None:
    project = tmp_path / "wheelprog"
    (project / "src" / "wheelprog").mkdir(parents=True)
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "src" / "wheelprog" / "__init__.py").write_text(
        "def main() -> None:\n    print('built by uv-build')\n"
    )
    subprocess.run(
        [uv(), "lock", "--quiet", "--exclude-newer", EXCLUDE_NEWER],
        cwd=project,
        check=True,
        capture_output=True,
    )
    generated = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert generated.returncode == 0, generated.stderr
    assert "uv_build-" in (project / "p2n" / "build-systems.toml").read_text()

    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "flake.nix").write_text(PROBE_FLAKE.replace("@project@", str(project)))
    built = run_nix("build", "--json", "--no-link", "-L", f"path:{probe}", *standin_override)
    assert built.returncode == 0, built.stderr
    assert "patched 1 ELF files under /build/build-env" in built.stderr  # uv-build itself
    report = json.loads(Path(json.loads(built.stdout)[0]["outputs"]["out"]).read_text())
    assert report["ninja"].startswith("1.13.0")
    assert report["script"] == "built by uv-build"
