"""Hostile strings from a lock and pyproject.toml survive rendering unchanged.

The rendered ``p2n/lock.nix`` is evaluated by real Nix and compared with the
values p2n read, so no URL, path or script name can break out of its string.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import run_nix, run_p2n

pytestmark = pytest.mark.nix

HOSTILE_URL = (
    'https://example.org/${builtins.abort "pwned"}/\'\'${x}/"q"/b\\s/%2B/'
    "dep-1.0+local-py3-none-any.whl"
)
HOSTILE_ENTRY_POINT = 'app:we"ird${x}\\main'
"""A script's entry point (its name must be a plain file name, issue 13 item 10)."""
HOSTILE_DIR = "mem ber's $dir ${x}"


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def test_hostile_values_round_trip_through_nix(tmp_path: Path) -> None:
    project = tmp_path / "hostile"
    member = project / HOSTILE_DIR
    member.mkdir(parents=True)
    (member / "pyproject.toml").write_text('[project]\nname = "member"\nversion = "1"\n')
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "1"\n'
        f"[project.scripts]\nweird-script = {_toml_string(HOSTILE_ENTRY_POINT)}\n"
    )
    digest = "ab" * 32
    (project / "uv.lock").write_text(
        'version = 1\nrevision = 3\nrequires-python = ">=3.11"\n'
        '[[package]]\nname = "app"\nversion = "1"\nsource = { editable = "." }\n'
        'dependencies = [{ name = "dep" }, { name = "member" }]\n'
        '[[package]]\nname = "dep"\nversion = "1.0+local"\n'
        'source = { registry = "https://example.org/simple" }\n'
        f'wheels = [{{ url = {_toml_string(HOSTILE_URL)}, hash = "sha256:{digest}" }}]\n'
        '[[package]]\nname = "member"\nversion = "1"\n'
        f"source = {{ editable = {_toml_string(HOSTILE_DIR)} }}\n"
    )
    result = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert result.returncode == 0, result.stderr
    evaluated = run_nix("eval", "--json", "--file", str(project / "p2n" / "lock.nix"))
    assert evaluated.returncode == 0, evaluated.stderr
    data = json.loads(evaluated.stdout)
    packages = data["packages"]
    assert packages["dep"]["wheel"] == "dep-1.0+local-py3-none-any.whl"
    assert packages["dep"]["files"]["dep-1.0+local-py3-none-any.whl"]["url"] == HOSTILE_URL
    assert packages["member"]["local"]["path"] == HOSTILE_DIR
    assert packages["app"]["local"]["scripts"] == {"weird-script": HOSTILE_ENTRY_POINT}
    assert data["scripts"] == ["weird-script"]


def test_lock_file_name_is_no_nix_code(tmp_path: Path) -> None:
    """Issue 13 item 2: Nix evaluates lock.nix and the .nix files of a hostile lock name as data."""
    from tests.test_hostile_inputs import EVIL_PYLOCK, _pylock_project

    project = _pylock_project(tmp_path, EVIL_PYLOCK)
    result = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert result.returncode == 0, result.stderr
    evaluated = run_nix(
        "eval", "--json", "--file", str(project / "p2n" / "lock.nix"), "--apply", "l: l.project"
    )
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout) == "hello-p2n"
    parsed = run_nix("eval", "--file", str(project / "flake.nix"), "--apply", "f: f.description")
    assert parsed.returncode == 0, parsed.stderr
    assert "pwned" not in parsed.stdout + parsed.stderr
    entry = run_nix(
        "eval", "--file", str(project / "p2n" / "default.nix"), "--apply", "builtins.functionArgs"
    )
    assert entry.returncode == 0, entry.stderr
    assert "pwned" not in entry.stdout + entry.stderr
