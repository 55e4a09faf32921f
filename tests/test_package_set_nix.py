"""The Nix package set (issue 14): overlays, use from an existing flake, closures, checks.

Real Nix against the nixpkgs stand-in. A hand-written consumer flake imports the
example's ``p2n/`` (``import ./hello/p2n { pkgs; overrides; }``) as a user with a
flake of their own would, and patches a wheel with an overlay.
"""

from __future__ import annotations

import difflib
import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import EXAMPLE, copy_project, run_nix, run_p2n

pytestmark = pytest.mark.nix

CONSUMER = """\
{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      system = "x86_64-linux";
      pkgs = nixpkgs.legacyPackages.${system};
      plain = import ./hello/p2n { inherit pkgs; };
      patched = import ./hello/p2n {
        inherit pkgs;
        overrides = final: prev: {
          iniconfig = prev.iniconfig.overrideAttrs (old: {
            patches = old.patches ++ [ ./PATCH ];
          });
          rich = prev.rich.overrideAttrs (old: {
            dependencies = old.dependencies ++ [ final.attrs ];
          });
        };
      };
    in
    {
      packages.${system} = {
        plain-iniconfig = plain.pythonSet.iniconfig;
        patched-iniconfig = patched.pythonSet.iniconfig;
        patched-env = patched.packages.default;
        patched-rich = patched.packages.rich;
        plain-env = plain.environment;
      };
      checks.${system} = patched.checks;
    };
}
"""


@pytest.fixture(scope="module")
def consumer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A flake of the user's own, with the generated project in ``hello/``."""
    root = tmp_path_factory.mktemp("consumer")
    project = copy_project(EXAMPLE, root / "hello")
    generated = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert generated.returncode == 0, generated.stderr
    (project / "flake.nix").unlink()  # the consumer's flake is the only one
    (root / "flake.nix").write_text(CONSUMER.replace("PATCH", "iniconfig.patch"))
    return root


def _build(consumer: Path, attr: str, standin_override: list[str], *more: str) -> Path:
    result = run_nix(
        "build", f"path:{consumer}#{attr}", *standin_override, "--json", "--no-link", *more
    )
    assert result.returncode == 0, result.stderr
    return Path(json.loads(result.stdout)[0]["outputs"]["out"])


def _python(env: Path, code: str) -> str:
    return subprocess.run(
        [str(env / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def _write_patch(consumer: Path, installed: Path, line: str) -> None:
    """A -p1 patch of iniconfig's installed ``__init__.py`` that appends ``line``."""
    module = next(installed.glob("lib/python3.*/site-packages/iniconfig/__init__.py"))
    old = module.read_text().splitlines(keepends=True)
    diff = difflib.unified_diff(
        old, [*old, line + "\n"], "a/iniconfig/__init__.py", "b/iniconfig/__init__.py"
    )
    (consumer / "iniconfig.patch").write_text("".join(diff))


def test_an_overlay_patches_a_wheel_and_the_environment_sees_it(
    consumer: Path, standin_override: list[str]
) -> None:
    plain = _build(consumer, "plain-iniconfig", standin_override)
    _write_patch(consumer, plain, "P2N_PATCHED = 'by an overlay'")
    patched = _build(consumer, "patched-iniconfig", standin_override)
    assert patched != plain
    source = next(patched.glob("lib/python3.*/site-packages/iniconfig/__init__.py")).read_text()
    assert source.endswith("P2N_PATCHED = 'by an overlay'\n")

    # The fixpoint: the environment takes the overlay's iniconfig, and its pyc is the patched one.
    env = _build(consumer, "patched-env", standin_override)
    assert _python(env, "import iniconfig; print(iniconfig.P2N_PATCHED)") == "by an overlay"
    where = "import iniconfig, os; print(os.path.realpath(iniconfig.__file__))"
    assert _python(env, where).startswith(str(patched))
    plain_env = _build(consumer, "plain-env", standin_override)
    assert _python(plain_env, "import iniconfig; print(hasattr(iniconfig, 'P2N_PATCHED'))") == (
        "False"
    )


def test_an_overlay_adds_a_dependency_to_a_packages_closure(
    consumer: Path, standin_override: list[str]
) -> None:
    _write_patch(consumer, _build(consumer, "plain-iniconfig", standin_override), "X = 1")
    rich = _build(consumer, "patched-rich", standin_override)
    site = next(rich.glob("lib/python3.*/site-packages"))
    names = sorted(p.name for p in site.iterdir() if not p.name.endswith(".dist-info"))
    assert names == ["attr", "attrs", "markdown_it", "mdurl", "pygments", "rich"]


def test_flake_check_imports_every_module_and_fails_on_a_broken_one(
    consumer: Path, standin_override: list[str]
) -> None:
    plain = _build(consumer, "plain-iniconfig", standin_override)
    _write_patch(consumer, plain, "X = 1")
    checked = run_nix("flake", "check", f"path:{consumer}", *standin_override)
    assert checked.returncode == 0, checked.stderr

    _write_patch(consumer, plain, "raise ImportError('broken by p2n test')")
    broken = run_nix("flake", "check", f"path:{consumer}", *standin_override)
    assert broken.returncode != 0
    assert "import iniconfig failed: ImportError: broken by p2n test" in broken.stderr


def test_a_package_output_is_the_package_with_its_closure(
    tmp_path: Path, standin_override: list[str]
) -> None:
    """``nix build .#rich`` of the generated flake: rich and what it needs, nothing else."""
    project = copy_project(EXAMPLE, tmp_path / "hello")
    generated = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert generated.returncode == 0, generated.stderr
    result = run_nix(
        "build", f"path:{project}#rich", *standin_override, "--json", "--no-link"
    )
    assert result.returncode == 0, result.stderr
    env = Path(json.loads(result.stdout)[0]["outputs"]["out"])
    assert env.name.endswith("-rich-15.0.0-env")
    code = "import rich, pygments, markdown_it, mdurl, importlib.util as u; "
    code += "print(u.find_spec('attrs'))"
    assert _python(env, code) == "None"
    raw = run_nix(
        "eval",
        "--raw",
        f"path:{project}#legacyPackages.x86_64-linux.rich.version",
        *standin_override,
    )
    assert raw.returncode == 0 and raw.stdout == "15.0.0", raw.stderr
