"""p2n installed the way a user installs it generates projects that need a build.

Every project with a ``[build-system]`` makes p2n run ``uv lock`` to pin the
build requirements. uv is a dependency of p2n (its wheel carries the binary),
found through ``uv.find_uv_bin()``, so a plain ``pip install`` or ``uv tool
install`` of p2n's wheel is enough: no uv on PATH, no dev extras. The
integration tests build the wheel, install it like a user, start from
``uv init --package`` and ``nix build`` the result in the sandbox.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from uv import find_uv_bin

from pyproject2nix.buildlock import uv_command
from pyproject2nix.errors import InputError
from tests.helpers import REPO, copy_tracked_files, run_nix

# Where the p2n under test runs: the system's tools, none of the test venv's.
BARE_PATH = "/usr/bin:/bin"


def test_uv_comes_from_the_package_before_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "uv"
    other.write_text("#!/bin/sh\nexit 1\n")
    other.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert uv_command() == [find_uv_bin()]


def test_uv_on_path_when_the_package_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_path = tmp_path / "uv"
    on_path.write_text("#!/bin/sh\nexit 0\n")
    on_path.chmod(0o755)
    monkeypatch.setitem(sys.modules, "uv", None)  # import uv raises ImportError
    monkeypatch.setenv("PATH", str(tmp_path))
    assert uv_command() == [str(on_path)]


def test_no_uv_anywhere_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "uv", None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InputError, match="reinstall p2n, or put uv on PATH") as raised:
        uv_command()
    assert "\n" not in str(raised.value)


def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, check=False, timeout=600
    )


def _as_user(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run an installed p2n with only the system's PATH (no uv there, no test venv)."""
    assert shutil.which("uv", path=BARE_PATH) is None, "the system has uv: the test proves nothing"
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = BARE_PATH
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, check=False, env=env, timeout=600
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """p2n's wheel, built from this checkout as `uv build` builds it."""
    out = tmp_path_factory.mktemp("wheel")
    result = _run(find_uv_bin(), "build", "--wheel", "--quiet", "--out-dir", out, REPO)
    assert result.returncode == 0, result.stderr
    (built,) = out.glob("pyproject2nix-*.whl")
    return built


def _new_project(parent: Path) -> Path:
    """A project as `uv init --package` makes it (hatchling backend), locked by uv."""
    project = parent / "demo-app"
    made = _run(
        find_uv_bin(), "init", "--quiet", "--package", "--build-backend", "hatch",
        "--vcs", "none", "--no-workspace", "--name", "demo-app", project,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert 'build-backend = "hatchling.build"' in (project / "pyproject.toml").read_text()
    locked = _run(find_uv_bin(), "lock", "--quiet", cwd=project)
    assert locked.returncode == 0, locked.stderr
    return project


def _generate_and_build(p2n: list[str | Path], project: Path, standin_override: list[str]) -> None:
    """Generate ``project`` with the p2n that the command line ``p2n`` runs, build it, run it."""
    generated = _as_user(*p2n, "generate", "--project", project, "--system", "x86_64-linux")
    assert generated.returncode == 0, generated.stderr
    recorded = (project / "p2n" / "build-systems.toml").read_text()
    assert 'requires = ["hatchling"]' in recorded
    assert 'name = "hatchling"' in recorded  # resolved to a pinned wheel by the packaged uv
    built = run_nix("build", f"path:{project}", *standin_override, "--json", "--no-link")
    assert built.returncode == 0, built.stderr
    environment = Path(json.loads(built.stdout)[0]["outputs"]["out"])
    ran = _run(environment / "bin" / "demo-app")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "Hello from demo-app!"


@pytest.mark.nix
def test_pip_installed_wheel_generates_and_builds_a_hatchling_project(
    wheel: Path, tmp_path: Path, standin_override: list[str]
) -> None:
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    installed = _run(environment / "bin" / "pip", "install", "--quiet", wheel)
    assert installed.returncode == 0, installed.stderr
    extras = _run(environment / "bin" / "python", "-m", "pip", "list", "--format=json")
    names = {p["name"].lower() for p in json.loads(extras.stdout)}
    assert not names & {"pytest", "mypy", "ruff"}, "dev extras leaked into the user install"
    _generate_and_build([environment / "bin" / "p2n"], _new_project(tmp_path), standin_override)


@pytest.mark.nix
def test_uv_tool_installed_wheel_generates_and_builds_a_hatchling_project(
    wheel: Path, tmp_path: Path, standin_override: list[str]
) -> None:
    tools, bin_dir = tmp_path / "tools", tmp_path / "bin"
    env = {**os.environ, "UV_TOOL_DIR": str(tools), "UV_TOOL_BIN_DIR": str(bin_dir)}
    installed = subprocess.run(
        [find_uv_bin(), "tool", "install", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr
    assert not (bin_dir / "uv").exists()  # only p2n's own entry point is exposed
    _generate_and_build([bin_dir / "p2n"], _new_project(tmp_path), standin_override)


@pytest.mark.nix
def test_nix_run_of_p2ns_own_flake_generates_and_builds_a_hatchling_project(
    tmp_path: Path, standin_override: list[str]
) -> None:
    flake = copy_tracked_files(tmp_path / "pyproject2nix")
    nix = shutil.which("nix", path=BARE_PATH)
    assert nix is not None
    p2n: list[str | Path] = [nix, "run", f"path:{flake}#", *standin_override, "--"]
    _generate_and_build(p2n, _new_project(tmp_path), standin_override)


@pytest.mark.nix
def test_p2n_from_its_own_flake_generates_where_the_host_has_no_loader(
    tmp_path: Path, standin_override: list[str]
) -> None:
    """As on NixOS: no /lib64/ld-linux-x86-64.so.2, so uv from a wheel runs only if patched.

    p2n built by its own flake runs in a mount namespace with an empty /lib64
    (root, as CI runs; ``unshare`` is util-linux) and no PATH, and still pins the
    build requirements with its uv: the wheel's program got nixpkgs' loader.
    """
    flake = copy_tracked_files(tmp_path / "pyproject2nix")
    built = run_nix("build", f"path:{flake}", *standin_override, "--json", "--no-link")
    assert built.returncode == 0, built.stderr
    p2n = Path(json.loads(built.stdout)[0]["outputs"]["out"]) / "bin" / "p2n"
    hide_loader = 'mount -t tmpfs none /lib64 && PATH=/nonexistent exec "$0" "$@"'
    shown = _run("unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                 hide_loader.replace('exec "$0" "$@"', "exec /bin/true"))  # fmt: skip
    assert shown.returncode != 0, "hiding /lib64 did not stop the host's programs"
    wrapper: list[str | Path] = [
        "unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", hide_loader, p2n,
    ]  # fmt: skip
    _generate_and_build(wrapper, _new_project(tmp_path), standin_override)
