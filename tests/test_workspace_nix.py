"""A uv workspace: members installed from local source, one importing another."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import UV_FIXTURES, copy_project, run_nix, run_p2n


def test_workspace_members_are_rendered_as_local_sources(tmp_path: Path) -> None:
    project = copy_project(UV_FIXTURES / "workspace", tmp_path / "ws")
    result = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert result.returncode == 0, result.stderr
    lock_nix = (project / "p2n" / "lock.nix").read_text()
    assert 'path = "packages/liba";' in lock_nix
    assert 'path = "packages/libb";' in lock_nix
    assert 'importRoot = "src";' in lock_nix


@pytest.mark.nix
def test_member_imports_member_in_the_built_environment(
    tmp_path: Path, standin_override: list[str]
) -> None:
    project = copy_project(UV_FIXTURES / "workspace", tmp_path / "ws")
    assert run_p2n("generate", "--project", str(project)).returncode == 0
    result = run_nix("run", f"path:{project}", *standin_override)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "libb uses liba"
