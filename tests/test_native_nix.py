"""Wheels with native code: ELF files get a RUNPATH to nixpkgs libraries.

greenlet's manylinux wheel links libstdc++, which neither nixpkgs' python nor
the stand-in puts on an extension module's search path. It must import inside
a derivation (the sandbox: no host /lib, no ld.so.cache) and from ``result``;
without the library the build must fail and name it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import UV_FIXTURES, copy_project, run_nix, run_p2n

pytestmark = pytest.mark.nix

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
        name = "greenlet-probe";
        inherit system;
        builder = "${env}/bin/python";
        args = [ "-c" ''
          import os, greenlet
          switched = greenlet.greenlet(lambda: "switched").switch()
          with open(os.environ["out"], "w") as out:
              out.write(switched + " " + greenlet.__version__)
        '' ];
      };
    };
}
"""


def _generate(tmp_path: Path, pyproject_extra: str = "") -> Path:
    project = copy_project(UV_FIXTURES / "native", tmp_path / "native")
    if pyproject_extra:
        with (project / "pyproject.toml").open("a") as pyproject:
            pyproject.write(pyproject_extra)
    result = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert result.returncode == 0, result.stderr
    return project


def test_native_wheel_imports_inside_a_derivation_and_from_result(
    tmp_path: Path, standin_override: list[str]
) -> None:
    project = _generate(tmp_path)
    lock_nix = (project / "p2n" / "lock.nix").read_text()
    assert 'libraries = [ "stdenv.cc.cc.lib" "zlib" ];' in lock_nix
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "flake.nix").write_text(PROBE_FLAKE.replace("@project@", str(project)))
    built = run_nix("build", "--json", "--no-link", f"path:{probe}", *standin_override)
    assert built.returncode == 0, built.stderr
    out = Path(json.loads(built.stdout)[0]["outputs"]["out"])
    assert out.read_text() == "switched 3.1.1"

    result = run_nix("build", f"path:{project}", *standin_override, "-o", str(project / "result"))
    assert result.returncode == 0, result.stderr
    ran = subprocess.run(
        [
            str(project / "result" / "bin" / "python"),
            "-c",
            "import greenlet._greenlet as g; print(g.__file__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert ran.stdout.strip().endswith(".so")


def test_missing_native_library_fails_the_build_naming_it(
    tmp_path: Path, standin_override: list[str]
) -> None:
    project = _generate(tmp_path, "\n[tool.p2n]\nlibraries = []\n")
    result = run_nix("build", f"path:{project}", *standin_override, "--no-link")
    assert result.returncode != 0
    assert "libstdc++.so.6 (needed by " in result.stderr
    assert '[tool.p2n.packages.greenlet] libraries = ["stdenv.cc.cc.lib"]' in result.stderr
