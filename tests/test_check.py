"""``p2n check``: fresh/stale verdicts with reasons, exit codes 0/1/2."""

from __future__ import annotations

from pathlib import Path

from pyproject2nix.check import recorded_files
from tests.helpers import EXAMPLE, UV_FIXTURES, copy_project, run_p2n


def _generated(tmp_path: Path, *args: str) -> Path:
    project = copy_project(EXAMPLE, tmp_path / "hello")
    result = run_p2n("generate", "--project", str(project), *args)
    assert result.returncode == 0, result.stderr
    return project


def test_fresh_after_generate_even_with_options(tmp_path: Path) -> None:
    project = _generated(tmp_path, "--extra", "yaml", "--system", "x86_64-linux", "--no-dev")
    result = run_p2n("check", "--project", str(project))
    assert result.returncode == 0, result.stderr
    assert "fresh" in result.stdout


def test_committed_example_is_fresh() -> None:
    result = run_p2n("check", "--project", str(EXAMPLE))
    assert result.returncode == 0, result.stderr


def test_changed_lock_is_stale_and_named(tmp_path: Path) -> None:
    project = _generated(tmp_path)
    lock = project / "uv.lock"
    lock.write_text(lock.read_text().replace('version = "26.1.0"', 'version = "26.1.1"', 1))
    result = run_p2n("check", "--project", str(project))
    assert result.returncode == 1
    assert "stale: p2n/lock.nix" in result.stderr
    assert "uv.lock changed since generation" in result.stderr


def test_hand_edit_and_leftover_files_are_stale(tmp_path: Path) -> None:
    project = _generated(tmp_path)
    flake = project / "flake.nix"
    flake.write_text(flake.read_text() + "# my edit\n")
    (project / "p2n" / "lib" / "old.nix").write_text("{ }\n")
    result = run_p2n("check", "--project", str(project))
    assert result.returncode == 1
    assert "flake.nix" in result.stderr and "p2n/lib/old.nix" in result.stderr
    assert "edited by hand" in result.stderr


def test_never_generated_is_stale(tmp_path: Path) -> None:
    project = copy_project(UV_FIXTURES / "forks", tmp_path / "forks")
    result = run_p2n("check", "--project", str(project))
    assert result.returncode == 1
    assert "not generated yet" in result.stderr


def test_broken_lock_is_exit_2(tmp_path: Path) -> None:
    project = _generated(tmp_path)
    (project / "uv.lock").write_text("version = [\n")
    result = run_p2n("check", "--project", str(project))
    assert result.returncode == 2
    assert "malformed TOML" in result.stderr


def test_recorded_files_are_read_from_any_data_layout() -> None:
    """``p2n check`` takes file URLs from p2n/lock.nix; format 1 (hex) and SRI hashes."""
    recorded = recorded_files((EXAMPLE / "p2n" / "lock.nix").read_text())
    attrs = recorded["attrs"]["attrs-26.1.0-py3-none-any.whl"]
    assert attrs.url.startswith("https://files.pythonhosted.org/") and len(attrs.sha256) == 64
    sri = recorded_files(
        '{ files = { "a_b-1.0.tar.gz" = { url = "https://x.test/a_b-1.0.tar.gz"; '
        'hash = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; }; }; }'
    )
    assert sri["a-b"]["a_b-1.0.tar.gz"].sha256 == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
