"""``p2n generate`` end to end (no Nix): golden files, determinism, refusals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pyproject2nix.generate import GenerateRequest, plan
from pyproject2nix.settings import Settings
from tests.helpers import EXAMPLE, UV_FIXTURES, copy_project, run_p2n


def _tree(directory: Path) -> dict[str, bytes]:
    files = [directory / "flake.nix", *sorted((directory / "p2n").rglob("*"))]
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in files if p.is_file()}


def test_example_output_matches_the_committed_files(tmp_path: Path) -> None:
    """Golden test: the committed example is exactly what p2n generates."""
    project = copy_project(EXAMPLE, tmp_path / "hello")
    result = run_p2n("generate", "--project", str(project))
    assert result.returncode == 0, result.stderr
    assert _tree(project) == _tree(EXAMPLE)


def test_output_is_identical_across_directories_and_runs(tmp_path: Path) -> None:
    one = copy_project(UV_FIXTURES / "forks", tmp_path / "one")
    two = copy_project(UV_FIXTURES / "forks", tmp_path / "elsewhere" / "two")
    assert run_p2n("generate", "--project", str(one)).returncode == 0
    assert run_p2n("generate", "--project", str(two)).returncode == 0
    first = _tree(one)
    assert first == _tree(two)
    again = run_p2n("generate", "--project", str(one))
    assert "up to date" in again.stdout
    assert _tree(one) == first
    text = b"".join(first.values()).decode()
    assert str(tmp_path) not in text


def test_large_real_lock_renders_every_package(tmp_path: Path) -> None:
    project = copy_project(UV_FIXTURES / "large", tmp_path / "large")
    result = plan(
        GenerateRequest(project_dir=project, settings=Settings(systems=("x86_64-linux",)))
    )
    assert result.package_counts["x86_64-linux"] > 300
    lock_nix = result.files["p2n/lock.nix"].decode()
    assert lock_nix.count('hash = "sha256-') == result.package_counts["x86_64-linux"]


def test_foreign_flake_is_not_overwritten_without_force(tmp_path: Path) -> None:
    """A flake of the user's own is kept; p2n/ is written for it to import."""
    project = copy_project(EXAMPLE, tmp_path / "hello")
    (project / "flake.nix").write_text("{ outputs = _: { }; }\n")
    kept = run_p2n("generate", "--project", str(project))
    assert kept.returncode == 0, kept.stderr
    assert "kept flake.nix" in kept.stdout and "import ./p2n { inherit pkgs; }" in kept.stdout
    assert (project / "flake.nix").read_text() == "{ outputs = _: { }; }\n"
    assert (project / "p2n" / "lock.nix").is_file() and (project / "p2n" / "default.nix").is_file()
    assert run_p2n("check", "--project", str(project)).returncode == 0
    forced = run_p2n("generate", "--project", str(project), "--force")
    assert forced.returncode == 0
    assert (project / "flake.nix").read_text().startswith("# Written by p2n")


# attrs' sdist and the URL of its only wheel, to replace by a Windows-only wheel.
_HELLO_LOCK = (EXAMPLE / "uv.lock").read_text()
_ATTRS_FILES = _HELLO_LOCK[
    _HELLO_LOCK.index(
        'sdist = { url = "https://files.pythonhosted.org/packages/9a/8e'
    ) : _HELLO_LOCK.index("attrs-26.1.0-py3-none-any.whl") + len("attrs-26.1.0-py3-none-any.whl")
]


def _break(project: Path, old: str, new: str) -> None:
    lock = project / "uv.lock"
    text = lock.read_text()
    assert old in text
    lock.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (("version = 1\n", "version = 7\n"), "uv.lock version 7 is not supported"),
        (("[[package]]", "[[package]"), "malformed TOML"),
        (
            ("https://files.pythonhosted.org/packages/64/b4", "http://files.pythonhosted.org/x"),
            "package attrs: http://files.pythonhosted.org/x",
        ),
        (
            (
                ', hash = "sha256:c647aa4a12dfbad9333ca4e71fe62ddc36f4e63b2d260a37a8b83d2f04'
                '3ac309"',
                "",
            ),
            "package attrs: .* has no sha256 hash",
        ),
        (
            (
                _ATTRS_FILES,
                'wheels = [\n    { url = "https://x/attrs-26.1.0-cp311-cp311-win_amd64.whl',
            ),
            "package attrs 26.1.0 has no wheel for aarch64-darwin .* and no sdist",
        ),
    ],
    ids=["unknown-version", "malformed-toml", "http-url", "missing-hash", "no-wheel"],
)
def test_bad_input_one_line_exit_2_nothing_written(
    tmp_path: Path, breakage: tuple[str, str], expected: str
) -> None:
    project = copy_project(EXAMPLE, tmp_path / "hello")
    _break(project, *breakage)
    result = run_p2n("generate", "--project", str(project))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "uv.lock" in lines[0]

    assert re.search(expected, lines[0]), lines[0]
    assert not (project / "flake.nix").exists()
    assert not (project / "p2n" / "lock.nix").exists()
    assert [p.name for p in project.iterdir() if p.name.startswith(".p2n")] == []


def test_missing_lock_says_how_to_make_one(tmp_path: Path) -> None:
    project = tmp_path / "empty"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n')
    result = run_p2n("generate", "--project", str(project))
    assert result.returncode == 2
    assert "no uv.lock found; run `uv lock` first" in result.stderr


def test_python_outside_requires_python_is_refused(tmp_path: Path) -> None:
    project = copy_project(EXAMPLE, tmp_path / "hello")
    result = run_p2n("generate", "--project", str(project), "--python", "3.10")
    assert result.returncode == 2
    assert "outside requires-python" in result.stderr


def test_help_explains_the_command() -> None:
    result = run_p2n("generate", "--help")
    assert result.returncode == 0
    for flag in ("--python", "--system", "--extra", "--all-extras", "--group", "--no-dev"):
        assert flag in result.stdout


def test_systems_follow_the_locks_supported_markers(tmp_path: Path) -> None:
    project = copy_project(EXAMPLE, tmp_path / "hello")
    lock = project / "uv.lock"
    text = lock.read_text()
    lock.write_text(
        text.replace(
            'requires-python = ">=3.11"\n',
            'requires-python = ">=3.11"\nsupported-markers = ["sys_platform == \'linux\'"]\n',
            1,
        )
    )
    result = run_p2n("generate", "--project", str(project))
    assert result.returncode == 0, result.stderr
    assert "aarch64-linux: 7, x86_64-linux: 7" in result.stdout
    assert "x86_64-darwin left out: outside the lock's supported-markers" in result.stdout
    assert "WARNING" not in result.stderr  # the lock says so: nothing is missing
    lock_nix = (project / "p2n" / "lock.nix").read_text()
    assert "#   aarch64-darwin: outside the lock's supported-markers" in lock_nix
    assert 'systems = [ "aarch64-linux" "x86_64-linux" ];' in lock_nix
    assert "aarch64-darwin = \"outside the lock's supported-markers" in lock_nix  # leftOut
    refused = run_p2n("generate", "--project", str(project), "--system", "aarch64-darwin")
    assert refused.returncode == 2
    assert "not resolved for aarch64-darwin" in refused.stderr


def test_systems_a_package_has_no_file_for_are_left_out(tmp_path: Path) -> None:
    """One Linux-only wheel (no sdist) must not refuse the lock: its other systems are left out."""
    project = copy_project(EXAMPLE, tmp_path / "hello")
    _break(
        project,
        _ATTRS_FILES,
        'wheels = [\n    { url = "https://x/attrs-26.1.0-py3-none-manylinux_2_17_x86_64.whl',
    )
    result = run_p2n("generate", "--project", str(project))
    assert result.returncode == 0, result.stderr
    assert "packages per system: x86_64-linux: 7" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 3, result.stderr
    assert warnings[0].startswith(
        "p2n: WARNING: aarch64-darwin left out: package attrs 26.1.0 has no wheel for "
        "aarch64-darwin with CPython 3.11 and no sdist to build "
        "(lock has: attrs-26.1.0-py3-none-manylinux_2_17_x86_64.whl)"
    )
    assert "required-environments" in warnings[0] and "--system aarch64-darwin" in warnings[0]
    lock_nix = (project / "p2n" / "lock.nix").read_text()
    assert "#   WARNING: x86_64-darwin: package attrs 26.1.0 has no wheel" in lock_nix
    assert 'systems = [ "x86_64-linux" ];' in lock_nix
    assert 'aarch64-linux = "package attrs 26.1.0 has no wheel' in lock_nix  # leftOut
    assert run_p2n("check", "--project", str(project)).returncode == 0
    asked = run_p2n("generate", "--project", str(project), "--system", "aarch64-linux")
    assert asked.returncode == 2
    assert len(asked.stderr.strip().splitlines()) == 1
    assert "package attrs 26.1.0 has no wheel for aarch64-linux" in asked.stderr


@pytest.mark.parametrize(
    ("url", "flag", "refusal"),
    [
        (
            "http://files.example.org/attrs-26.1.0-py3-none-any.whl",
            "--allow-insecure-http",
            "not an https:// URL",
        ),
        (
            "file:///srv/wheels/attrs-26.1.0-py3-none-any.whl",
            "--allow-file-urls",
            "is a file:// URL",
        ),
    ],
    ids=["http", "file"],
)
def test_policy_opt_in_is_recorded_with_a_warning(
    tmp_path: Path, url: str, flag: str, refusal: str
) -> None:
    project = copy_project(EXAMPLE, tmp_path / "hello")
    lock = project / "uv.lock"
    original = (
        "https://files.pythonhosted.org/packages/64/b4/17d4b0b2a2dc85a6df63d1157e028ed19f90d4cd97"
        "c36717afef2bc2f395/attrs-26.1.0-py3-none-any.whl"
    )
    lock.write_text(lock.read_text().replace(original, url))
    refused = run_p2n("generate", "--project", str(project))
    assert refused.returncode == 2
    assert refusal in refused.stderr and flag in refused.stderr
    assert not (project / "p2n" / "lock.nix").exists()
    allowed = run_p2n("generate", "--project", str(project), flag)
    assert allowed.returncode == 0, allowed.stderr
    lock_nix = (project / "p2n" / "lock.nix").read_text()
    header = lock_nix.split("\n{", 1)[0]
    assert "WARNING: files fetched against the default policy" in header
    assert url in header and flag in header
    assert f'url = "{url}";' in lock_nix
    fresh = run_p2n("check", "--project", str(project))
    assert fresh.returncode == 0, fresh.stderr


def test_a_gitignored_lib_dir_gets_git_add_force(tmp_path: Path) -> None:
    """Python's usual .gitignore ignores lib/: `git add p2n` would leave p2n/lib out."""
    import subprocess

    project = copy_project(EXAMPLE, tmp_path / "hello")
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    (project / ".gitignore").write_text("lib/\n")
    result = run_p2n("generate", "--project", str(project))
    assert result.returncode == 0, result.stderr
    assert "a .gitignore rule ignores p2n/lib: git add -f flake.nix p2n" in result.stdout
    (project / ".gitignore").write_text("")
    again = run_p2n("generate", "--project", str(project))
    assert "Nix sees only tracked files: git add flake.nix p2n" in again.stdout
