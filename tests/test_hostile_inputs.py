"""A red-team pass over what reaches files, paths and Nix text (issue 13).

One test (or a few) per numbered item of the issue; each failed before its fix.
Git argument injection (items 1 and 6) lives in test_hostile_git.py.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.helpers import EXAMPLE, PYLOCK_FIXTURES, copy_project, run_p2n

EVIL_PYLOCK = 'pylock.a\nabort "pwned" #.toml'


def _pylock_project(tmp_path: Path, lock_name: str = "pylock.toml") -> Path:
    project = tmp_path / "hello"
    shutil.copytree(
        PYLOCK_FIXTURES / "hello", project, ignore=shutil.ignore_patterns("p2n", "flake.nix")
    )
    if lock_name != "pylock.toml":
        (project / "pylock.toml").rename(project / lock_name)
    return project


def _header_lines(text: str) -> list[str]:
    lines = text.splitlines()
    return lines[: lines.index("{")]


def test_lock_file_name_cannot_end_the_header_comment(tmp_path: Path) -> None:
    """Item 2: a newline in ``pylock.<name>.toml`` stays inside the comment."""
    project = _pylock_project(tmp_path, EVIL_PYLOCK)
    result = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert result.returncode == 0, result.stderr
    for name in ("p2n/default.nix", "p2n/lock.nix"):
        text = (project / name).read_text()
        header = _header_lines(text.split("\n/**", 1)[0] + "\n{")  # default.nix: nixdoc next
        assert all(line.startswith("#") for line in header), header
        assert 'pylock.a\\u{a}abort "pwned" #.toml' in header[0]
    checked = run_p2n("check", "--project", str(project))
    assert checked.returncode == 0, checked.stderr
    # The terminal sees the name escaped too: every message stays one line.
    assert 'pylock.a\\u{a}abort "pwned" #.toml -> CPython' in result.stdout


def _path_wheel_project(tmp_path: Path, location: str) -> Path:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "1"\nrequires-python = ">=3.11"\n'
        'dependencies = ["dep"]\n'
    )
    digest = hashlib.sha256(WHEEL_BYTES).hexdigest()
    (project / "uv.lock").write_text(
        'version = 1\nrevision = 3\nrequires-python = ">=3.11"\n'
        '[[package]]\nname = "app"\nversion = "1"\nsource = { editable = "." }\n'
        'dependencies = [{ name = "dep" }]\n'
        '[package.metadata]\nrequires-dist = [{ name = "dep" }]\n'
        '[[package]]\nname = "dep"\nversion = "1.0"\n'
        f"source = {{ path = {json.dumps(location)} }}\n"
        f'wheels = [{{ filename = "dep-1.0-py3-none-any.whl", hash = "sha256:{digest}" }}]\n'
    )
    return project


WHEEL_BYTES = b"not really a zip, but hashed"


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_path_wheel_outside_the_project_is_refused(tmp_path: Path, how: str) -> None:
    """Item 3: files of path sources must lie below the project, like directories."""
    outside = tmp_path / "outside" / "dep-1.0-py3-none-any.whl"
    outside.parent.mkdir()
    outside.write_bytes(WHEEL_BYTES)
    location = {
        "dotdot": "../outside/dep-1.0-py3-none-any.whl",
        "absolute": str(outside),
        "symlink": "dist/dep-1.0-py3-none-any.whl",
    }[how]
    project = _path_wheel_project(tmp_path, location)
    if how == "symlink":
        (project / "dist").mkdir()
        (project / location).symlink_to(outside)
    result = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert result.returncode == 2, result.stdout
    assert "is outside the project directory" in result.stderr
    assert not (project / "p2n").exists()


def test_path_wheel_inside_the_project_is_accepted(tmp_path: Path) -> None:
    project = _path_wheel_project(tmp_path, "dist/dep-1.0-py3-none-any.whl")
    (project / "dist").mkdir()
    (project / "dist" / "dep-1.0-py3-none-any.whl").write_bytes(WHEEL_BYTES)
    result = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert result.returncode == 0, result.stderr
    assert 'path = "dist/dep-1.0-py3-none-any.whl";' in (project / "p2n/lock.nix").read_text()


# --- Items 4, 5 and 13: files that are the user's, all-or-nothing, leftovers -------------


def _generated_example(tmp_path: Path) -> Path:
    project = copy_project(EXAMPLE, tmp_path / "hello")
    result = run_p2n("generate", "--project", str(project), "--offline")
    assert result.returncode == 0, result.stderr
    return project


def test_a_file_named_p2n_is_not_deleted_without_force(tmp_path: Path) -> None:
    """Item 4: a regular file ``p2n`` is the user's."""
    project = copy_project(EXAMPLE, tmp_path / "hello")
    shutil.rmtree(project / "p2n")
    (project / "p2n").write_text("my notes\n")
    # Without p2n/build-systems.toml the build requirements are resolved again (uv).
    result = run_p2n("generate", "--project", str(project))
    assert result.returncode == 2
    assert "is not p2n's output directory" in result.stderr
    assert (project / "p2n").read_text() == "my notes\n"
    forced = run_p2n("generate", "--project", str(project), "--force")
    assert forced.returncode == 0, forced.stderr
    assert (project / "p2n" / "lock.nix").is_file()


def test_user_files_under_p2n_are_not_deleted_without_force(tmp_path: Path) -> None:
    """Item 4: a patch kept under p2n/ (even one [tool.p2n] names) survives."""
    project = _generated_example(tmp_path)
    patch = project / "p2n" / "patches" / "fix.patch"
    patch.parent.mkdir()
    patch.write_text("--- a\n+++ b\n")
    with (project / "pyproject.toml").open("a") as handle:
        handle.write('\n[tool.p2n.packages.attrs]\npatches = ["p2n/patches/fix.patch"]\n')
    result = run_p2n("generate", "--project", str(project), "--offline")
    assert result.returncode == 2
    assert "holds files p2n does not write (p2n/patches/fix.patch)" in result.stderr
    assert patch.read_text() == "--- a\n+++ b\n"


def test_kill_between_the_fallback_renames_keeps_the_old_output(tmp_path: Path) -> None:
    """Item 5: killed between the two renames (no renameat2), the next run puts p2n/ back."""
    project = _generated_example(tmp_path)
    build_lock = (project / "p2n" / "build-systems.toml").read_bytes()
    staging = project / ".p2n-new-killed"
    staging.mkdir()
    (project / "p2n").rename(staging / "p2n.old")  # the state a kill there leaves
    checked = run_p2n("check", "--project", str(project))
    assert checked.returncode == 1
    assert "an interrupted p2n generate left .p2n-new-killed" in checked.stderr
    result = run_p2n("generate", "--project", str(project), "--offline")
    assert result.returncode == 0, result.stderr
    assert (project / "p2n" / "build-systems.toml").read_bytes() == build_lock
    assert not staging.exists()
    assert run_p2n("check", "--project", str(project)).returncode == 0


def test_flake_nix_directory_is_refused_before_anything_changes(tmp_path: Path) -> None:
    """Item 5: with flake.nix a directory, --force used to replace p2n/ and then crash.

    Without --force p2n keeps whatever flake.nix is (p2n/ is refreshed); with it, the
    directory is refused before anything changes.
    """
    project = _generated_example(tmp_path)
    before = (project / "p2n" / "lock.nix").read_bytes()
    (project / "flake.nix").unlink()
    (project / "flake.nix").mkdir()
    (project / "uv.lock").write_text((project / "uv.lock").read_text() + "\n")
    result = run_p2n("generate", "--project", str(project), "--offline", "--force")
    assert result.returncode == 2, result.stderr
    assert "flake.nix: is a directory" in result.stderr
    assert (project / "p2n" / "lock.nix").read_bytes() == before
    kept = run_p2n("generate", "--project", str(project), "--offline")
    assert kept.returncode == 0, kept.stderr
    assert "kept flake.nix" in kept.stdout and (project / "flake.nix").is_dir()


def test_dangling_flake_symlink_is_not_replaced_without_force(tmp_path: Path) -> None:
    """Item 13: a dangling flake.nix symlink is the user's: kept, p2n/ written beside it."""
    project = copy_project(EXAMPLE, tmp_path / "hello")
    (project / "flake.nix").symlink_to("elsewhere/flake.nix")
    result = run_p2n("generate", "--project", str(project), "--offline")
    assert result.returncode == 0, result.stderr
    assert "kept flake.nix" in result.stdout
    assert (project / "flake.nix").is_symlink()
    assert (project / "p2n" / "default.nix").is_file()


def test_check_of_a_missing_directory_is_bad_input() -> None:
    """Item 13: exit 2 (bad input), not 1 (stale)."""
    result = run_p2n("check", "--project", "/nonexistent/p2n-project")
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_two_generates_at_once_take_turns(tmp_path: Path) -> None:
    """Item 9: concurrent runs in one project crashed on each other's staging directory.

    Runs now take turns on a lock of the project directory: while this test
    holds it, a generate waits, and finishes once it is released.
    """
    project = _generated_example(tmp_path)
    (project / "uv.lock").write_text((project / "uv.lock").read_text() + "\n")
    command = [sys.executable, "-m", "pyproject2nix", "generate", "--project", str(project)]
    descriptor = os.open(project, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        waiting = subprocess.Popen([*command, "--offline"], stderr=subprocess.PIPE, text=True)
        time.sleep(5)
        assert waiting.poll() is None, "generate did not wait for the project's lock"
    finally:
        os.close(descriptor)
    _, stderr = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, stderr
    assert run_p2n("check", "--project", str(project)).returncode == 0


def test_unwritable_project_is_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 9: a read-only project dir gave a traceback (root ignores modes, so fake it)."""
    from pyproject2nix import output
    from pyproject2nix.errors import OutputError

    def refuse(**_: object) -> str:
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)  # output's own tempfile module
    with pytest.raises(OutputError, match="cannot write the generated files: Permission denied"):
        output.write_tree(tmp_path, {"flake.nix": b"x"})


def test_build_lock_is_valid_toml_for_any_character(tmp_path: Path) -> None:
    """Item 7: characters beyond the BMP (and DEL, ESC) used to make invalid TOML."""
    from pyproject2nix.buildlock import BuildLock, PinnedWheel, RecordedSource, read_build_lock
    from pyproject2nix.buildsystem import BuildSystem

    odd = 'x\U0001f600y\x7f\x1b"\\\n\t'
    lock = BuildLock()
    requires = (f'demo; platform_release == "{odd}"',)
    lock.sources[f"git https://h/{odd}@{'0' * 40}"] = RecordedSource(
        BuildSystem(requires, f"backend{odd}", (f"dir{odd}",)), "sha256-" + "A" * 43 + "="
    )
    lock.resolutions[(requires, "3.12", "x86_64-linux")] = (
        PinnedWheel(f"demo{odd}", odd, "demo-1-py3-none-any.whl", f"https://h/{odd}", "ab" * 32),
    )
    path = tmp_path / "build-systems.toml"
    path.write_bytes(lock.render())
    assert read_build_lock(path) == lock


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x07", "\x7f", "\x0b", "\x85", "\u202e"])
def test_control_characters_are_never_written_into_nix(char: str) -> None:
    """Item 11: Nix cannot escape them (NUL truncates in 2.8); they were written raw."""
    from pyproject2nix.errors import InputError
    from pyproject2nix.nixexpr import string

    with pytest.raises(InputError, match=f"control character U\\+{ord(char):04X}"):
        string(f"https://h/a{char}b.whl")


def test_control_character_in_a_lock_url_is_one_line_error(tmp_path: Path) -> None:
    project = copy_project(EXAMPLE, tmp_path / "hello")
    lock = project / "uv.lock"
    lock.write_text(
        lock.read_text().replace(
            "https://files.pythonhosted.org/packages/64/b4",
            "https://files.pythonhosted.org/packages/64\\u001b[2J/b4",
            1,
        )
    )
    result = run_p2n("generate", "--project", str(project), "--offline")
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "\x1b" not in result.stderr and "U+001B" in result.stderr
    assert not (project / "flake.nix").exists()


@pytest.mark.parametrize(
    "name",
    [
        "outputHash",
        "outputHashMode",
        "outputs",
        "__noChroot",
        "__impure",
        "__structuredAttrs",
        "buildCommand",
        "installPhase",
        "phases",
        "impureEnvVars",
        "buildWheelScript",
        "p2nPatches",
        "stdenvBuild",
        "subdirectory",
    ],
)
def test_env_cannot_change_the_nature_of_a_build(tmp_path: Path, name: str) -> None:
    """Item 12: [tool.p2n] env took derivation attributes (a fixed-output build gets network)."""
    from pyproject2nix.errors import InputError
    from pyproject2nix.overrides import parse_overrides
    from pyproject2nix.tomlfile import TomlTable

    table = TomlTable(
        tmp_path / "pyproject.toml", "tool.p2n", {"packages": {"demo": {"env": {name: "x"}}}}
    )
    with pytest.raises(InputError, match=f"tool.p2n.packages.demo.env.{name}: "):
        parse_overrides(table, "pyproject.toml")
    fine = TomlTable(
        tmp_path / "pyproject.toml", "tool.p2n", {"packages": {"demo": {"env": {"CFLAGS": "-O2"}}}}
    )
    demo = canonicalize_name("demo")
    assert parse_overrides(fine, "pyproject.toml").package(demo).env == (("CFLAGS", "-O2"),)


def _virtual_workspace(project: Path) -> Path:
    """A uv workspace root without a [project] table, and one member."""
    member = project / "packages" / "member"
    (member / "member").mkdir(parents=True)
    (member / "member" / "__init__.py").write_text("")
    (member / "pyproject.toml").write_text(
        '[project]\nname = "member"\nversion = "1.0"\nrequires-python = ">=3.11"\n'
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
    )
    (project / "pyproject.toml").write_text('[tool.uv.workspace]\nmembers = ["packages/*"]\n')
    (project / "uv.lock").write_text(
        'version = 1\nrevision = 3\nrequires-python = ">=3.11"\n'
        '[manifest]\nmembers = ["member"]\n'
        '[[package]]\nname = "member"\nversion = "1.0"\n'
        'source = { editable = "packages/member" }\n'
    )
    (project / "p2n").mkdir()
    shutil.copyfile(EXAMPLE / "p2n" / "build-systems.toml", project / "p2n" / "build-systems.toml")
    return project


def test_output_does_not_depend_on_the_directory_name(tmp_path: Path) -> None:
    """Item 8: without [project].name the directory's name went into the output."""
    outputs = []
    for directory in ("checkout-one", "other-name"):
        project = _virtual_workspace(tmp_path / directory)
        result = run_p2n("generate", "--project", str(project), "--offline")
        assert result.returncode == 0, result.stderr
        outputs.append({p.relative_to(project): p.read_bytes() for p in project.rglob("*.nix")})
    assert outputs[0] == outputs[1]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        ("uv.lock", 'name = "attrs"', 'name = "at trs"', "package name 'at trs' is not a valid"),
        ("uv.lock", 'name = "attrs"', 'name = "../../x"', "is not a valid package name"),
        (
            "uv.lock",
            "attrs-26.1.0-py3-none-any.whl",
            "attrs%20x-26.1.0-py3-none-any.whl",
            "file name 'attrs x-26.1.0-py3-none-any.whl' holds characters Nix refuses",
        ),
        (
            "pyproject.toml",
            "hello-p2n = ",
            '"../../x" = ',
            "script '../../x' of hello-p2n is not a plain file name",
        ),
        ("pyproject.toml", "hello-p2n = ", '"" = ', "script '' of hello-p2n"),
        ("pyproject.toml", "hello-p2n = ", '"-rf" = ', "script '-rf'"),
    ],
    ids=["space", "dotdot", "wheel-file", "script-dotdot", "script-empty", "script-dash"],
)
def test_names_are_validated_before_nix_sees_them(
    tmp_path: Path, file: str, old: str, new: str, expected: str
) -> None:
    """Item 10: names uv rejects failed only later in Nix; script names could leave bin/."""
    project = copy_project(EXAMPLE, tmp_path / "hello")
    _edit(project / file, old, new)
    if new.startswith('name = "'):  # the dependency edge names the package too
        _edit(project / "uv.lock", '{ name = "attrs" }', "{ " + new + " }")
    result = run_p2n("generate", "--project", str(project), "--offline")
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_invalid_project_name_is_refused(tmp_path: Path) -> None:
    project = copy_project(EXAMPLE, tmp_path / "hello")
    _edit(project / "pyproject.toml", 'name = "hello-p2n"', 'name = "hello p2n"')
    result = run_p2n("generate", "--project", str(project), "--offline")
    assert result.returncode == 2
    assert "project.name 'hello p2n' is not a valid package name" in result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('version = 1\n[[package]\nname = "x"\n', ":2:10: malformed TOML: "),
        ('version = 1\nrequires-python = ">=3.11\n', ":2:26: malformed TOML: "),
        ("version = 1\nversion = 2\n", ":2:12: malformed TOML: Cannot overwrite a value: "),
        ("x = " + "[" * 2000 + "]" * 2000, ": malformed TOML: nested too deeply"),
    ],
    ids=["table-header", "unterminated", "duplicate-key", "deep-nesting"],
)
def test_toml_syntax_errors_give_line_column_and_the_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    """Items 15 and 9: line:column and the offending line, like uv; deep nesting no traceback."""
    project = copy_project(EXAMPLE, tmp_path / "hello")
    (project / "uv.lock").write_text(text)
    result = run_p2n("generate", "--project", str(project), "--offline")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"uv.lock{expected}" in lines[0]
    if "nested" not in expected:
        offending = text.splitlines()[int(expected.split(":")[1]) - 1]
        assert repr(offending) in lines[0]


def test_byte_order_mark_is_named(tmp_path: Path) -> None:
    """Item 13: a UTF-8 BOM was refused as an unexplained syntax error."""
    project = copy_project(EXAMPLE, tmp_path / "hello")
    lock = project / "uv.lock"
    lock.write_bytes(b"\xef\xbb\xbf" + lock.read_bytes())
    result = run_p2n("generate", "--project", str(project), "--offline")
    assert result.returncode == 2
    assert "byte order mark (BOM)" in result.stderr


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('url = "https://', 'url = "http://', "url"),
        ('url = "https://', 'url = "file:///', "url"),
        ('sha256 = "', 'sha256 = "zz', "sha256"),
        ('filename = "', 'filename = "not-a-wheel', "filename"),
    ],
)
def test_tampered_build_lock_is_refused(tmp_path: Path, old: str, new: str, key: str) -> None:
    """Items 9 and 6: build-systems.toml is committed input: its wheels follow the URL
    policy and a bad wheel name was a traceback (InvalidWheelFilename)."""
    project = copy_project(EXAMPLE, tmp_path / "hello")
    _edit(project / "p2n" / "build-systems.toml", old, new)
    result = run_p2n("generate", "--project", str(project), "--offline")
    assert result.returncode == 2, result.stderr
    assert f"build-systems.toml: resolution[0].wheels[0].{key}: " in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "holds no Python version"),
        (b"  \n\n", "holds no Python version"),
        (b"\xff\xfe3.12", "not UTF-8 text"),
        (b"# pinned for CI\n3.11\n", None),
        (b"\xef\xbb\xbf3.11\n", None),
        (b"cpython@3.11\n", None),
        (b"3.99\n", ".python-version 3.99: nixpkgs has no such CPython"),
    ],
    ids=["empty", "blank", "not-utf8", "comment", "bom", "cpython-at", "unknown"],
)
def test_python_version_file_like_uv(tmp_path: Path, content: bytes, expected: str | None) -> None:
    """Items 9 and 13: tracebacks on empty/blank/non-UTF-8 files; comments and a BOM
    were refused although uv reads them; errors named --python, never passed."""
    project = copy_project(EXAMPLE, tmp_path / "hello")
    (project / ".python-version").write_bytes(content)
    result = run_p2n("generate", "--project", str(project), "--offline")
    if expected is None:
        assert result.returncode == 0, result.stderr
        assert "CPython 3.11" in result.stdout
    else:
        assert result.returncode == 2, result.stderr
        assert expected in result.stderr
        assert "--python" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("# p2n-settings: {", "# p2n-settings: [{", "damaged header line # p2n-settings:"),
        ("p2n/inputs.json", "7", "p2n/inputs.json: damaged (not a JSON object)"),
        ('"python": null', '"python": "3.99"', "python (recorded in p2n/lock.nix) 3.99"),
        (
            '"python": null',
            '"lock_file": "gone.lock", "python": null',
            "lock (recorded in p2n/lock.nix) gone.lock: no such file",
        ),
    ],
    ids=["settings-list", "inputs-number", "python", "lock"],
)
def test_tampered_lock_nix_header_in_check(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    """Items 9 and 13: a tampered header gave a traceback; recorded settings were blamed
    on flags (--python, --lock) the user never passed."""
    project = _generated_example(tmp_path)
    if old == "p2n/inputs.json":  # the inputs' digests live beside lock.nix (format 2)
        (project / old).write_text(new)
    else:
        _edit(project / "p2n" / "lock.nix", old, new)
    result = run_p2n("check", "--project", str(project))
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "--python" not in result.stderr and "--lock" not in result.stderr


@pytest.mark.parametrize("flag", ["--json", "--junit"])
def test_verify_report_path_is_checked_before_the_run(tmp_path: Path, flag: str) -> None:
    """Item 13: an unwritable --json FILE was found out only after both builds."""
    result = run_p2n("verify", flag, str(tmp_path / "missing" / "report"), f"path:{tmp_path}")
    assert result.returncode == 2, result.stderr
    assert "cannot write" in result.stderr and "No such file or directory" in result.stderr
    assert "nix" not in result.stderr.lower().replace("p2n", "")


def test_dense_graph_walk_compares_no_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 14: 1,000 packages x 300 dependencies took 85 s: the walk tested list
    membership with whole-dataclass comparisons. Now it compares none."""
    from packaging.specifiers import SpecifierSet
    from packaging.tags import Tag
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    from pyproject2nix.model import Dependency, Lock, LockedPackage, Source, SourceKind, Wheel
    from pyproject2nix.select import Options, select
    from pyproject2nix.targets import SYSTEMS, Target

    count = 80
    names = [canonicalize_name(f"pkg{index}") for index in range(count)]
    wheel_tags = frozenset({Tag("py3", "none", "any")})
    packages = [
        LockedPackage(
            name=name,
            version=Version("1"),
            source=Source(SourceKind.REGISTRY, "https://pypi.org/simple"),
            wheels=(
                Wheel(
                    url=f"https://h/{name}-1-py3-none-any.whl",
                    sha256="ab" * 32,
                    filename=f"{name}-1-py3-none-any.whl",
                    tags=wheel_tags,
                ),
            ),
            # Every package depends on every later one (a complete DAG).
            dependencies=tuple(Dependency(other) for other in names[index + 1 :]),
        )
        for index, name in enumerate(names)
    ]
    lock = Lock(
        path=Path("uv.lock"),
        requires_python=SpecifierSet(">=3.11"),
        packages=tuple(packages),
        root_names=(names[0],),
    )
    comparisons = 0
    original = LockedPackage.__eq__

    def counting(self: LockedPackage, other: object) -> bool:
        nonlocal comparisons
        comparisons += 1
        return original(self, other)

    monkeypatch.setattr(LockedPackage, "__eq__", counting)
    selection = select(lock, Target(SYSTEMS["x86_64-linux"], (3, 12)), Options())
    assert len(selection.packages) == count
    assert comparisons == 0


@pytest.mark.parametrize("index", ["file:///etc", "ftp://example.org/simple", "data:,x"])
def test_index_urls_from_a_lock_are_never_local_files(tmp_path: Path, index: str) -> None:
    """An index URL (poetry.lock's source) reached urllib, which opens file:// too."""
    from pyproject2nix.errors import IndexQueryError
    from pyproject2nix.index.client import IndexClient, PageRequest

    client = IndexClient(tmp_path / "cache", backoff=0.0)
    request = PageRequest(index, "passwd", lambda files: False, "passwd-1.whl")
    with pytest.raises(IndexQueryError, match="is not an https:// URL"):
        client.page(request)


@pytest.mark.parametrize("name", ["uv.lock", "pyproject.toml", ".python-version", "p2n.toml"])
def test_input_symlinked_out_of_the_project_is_not_read(tmp_path: Path, name: str) -> None:
    """A project's input file linking to a file of this machine was read (and quoted)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("machine example login me password hunter2\n")
    project = copy_project(EXAMPLE, tmp_path / "hello")
    (project / name).unlink(missing_ok=True)
    (project / name).symlink_to(secret)
    result = run_p2n("generate", "--project", str(project), "--offline")
    assert result.returncode == 2, result.stderr
    assert "is a symlink out of the project directory" in result.stderr
    assert "hunter2" not in result.stderr


def test_patch_symlinked_out_of_the_project_is_refused(tmp_path: Path) -> None:
    from pyproject2nix.errors import InputError
    from pyproject2nix.overrides import parse_overrides
    from pyproject2nix.tomlfile import TomlTable

    outside = tmp_path / "outside.patch"
    outside.write_text("--- a\n+++ b\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "fix.patch").symlink_to(outside)
    table = TomlTable(
        project / "pyproject.toml", "tool.p2n", {"packages": {"demo": {"patches": ["fix.patch"]}}}
    )
    with pytest.raises(InputError, match="a symlink out of the project"):
        parse_overrides(table, "pyproject.toml")
