"""The overrides file ([tool.p2n] / p2n.toml): values read, and one-line errors with key paths."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from pyproject2nix.errors import InputError
from pyproject2nix.overrides import DEFAULT_LIBRARIES, Overrides, read_overrides
from tests.helpers import EXAMPLE, copy_project, run_p2n

PYPROJECT = '[project]\nname = "demo"\nversion = "1"\n'


def _read(tmp_path: Path, tool: str, p2n_toml: str | None = None) -> Overrides:
    text = PYPROJECT + tool
    (tmp_path / "pyproject.toml").write_text(text)
    if p2n_toml is not None:
        (tmp_path / "p2n.toml").write_text(p2n_toml)
    return read_overrides(tmp_path, tomllib.loads(text))


def test_no_overrides_gives_the_default_libraries(tmp_path: Path) -> None:
    overrides = _read(tmp_path, "")
    assert overrides.file is None
    assert overrides.libraries_for(canonicalize_name("x")) == DEFAULT_LIBRARIES


def test_values_are_read_from_tool_p2n(tmp_path: Path) -> None:
    (tmp_path / "patches").mkdir()
    (tmp_path / "patches" / "fix.patch").write_text("")
    overrides = _read(
        tmp_path,
        """
[tool.p2n]
libraries = ["zlib"]

[tool.p2n.packages.Psycopg2_Binary]
libraries = ["postgresql.lib", "zlib"]
build-inputs = ["openssl"]
native-build-inputs = ["pkg-config"]
env = { B = "2", A = "1" }
patches = ["patches/fix.patch"]
build-requires = ["cython<3"]
""",
    )
    name = canonicalize_name("psycopg2-binary")
    package = overrides.package(name)
    assert overrides.file == "pyproject.toml"
    assert overrides.libraries_for(name) == ("zlib", "postgresql.lib", "openssl")
    assert package.env == (("A", "1"), ("B", "2"))
    assert package.patches == ("patches/fix.patch",)
    assert package.build_requires == ("cython<3",)
    assert package.uses_stdenv


def test_values_are_read_from_p2n_toml(tmp_path: Path) -> None:
    overrides = _read(tmp_path, "", '[packages.greenlet]\nlibraries = ["libffi"]\n')
    assert overrides.file == "p2n.toml"
    assert overrides.package(canonicalize_name("greenlet")).libraries == ("libffi",)


@pytest.mark.parametrize(
    ("tool", "expected"),
    [
        ("[tool]\np2n = 3\n", r"pyproject.toml: tool.p2n: expected a table"),
        (
            "[tool.p2n]\nlibaries = []\n",
            r"tool.p2n.libaries: unknown key; did you mean 'libraries'",
        ),
        (
            '[tool.p2n]\nlibraries = ["no good"]\n',
            r"tool.p2n.libraries\[0\]: 'no good' is not a nixpkgs attribute path",
        ),
        ("[tool.p2n.packages]\nx = 1\n", r"tool.p2n.packages.x: expected a table"),
        (
            "[tool.p2n.packages.x]\nbuild_inputs = []\n",
            r"tool.p2n.packages.x.build_inputs: unknown key; did you mean 'build-inputs'",
        ),
        ("[tool.p2n.packages.x]\nstdenv = 1\n", r"packages.x.stdenv: expected true or false"),
        ("[tool.p2n.packages.x]\nenv = { out = 'x' }\n", r"packages.x.env.out: is set by p2n"),
        ("[tool.p2n.packages.x]\nenv = { A = [] }\n", r"packages.x.env.A: expected a string"),
        ("[tool.p2n.packages.x]\nenv = { 1A = 'x' }\n", r"env.1A: not a valid environment"),
        (
            "[tool.p2n.packages.x]\npatches = ['../up.patch']\n",
            r"packages.x.patches\[0\]: '../up.patch': give a path inside the project",
        ),
        (
            "[tool.p2n.packages.x]\npatches = ['missing.patch']\n",
            r"packages.x.patches\[0\]: 'missing.patch': no such file",
        ),
        (
            "[tool.p2n.packages.x]\nbuild-requires = ['cython <<3']\n",
            r"packages.x.build-requires\[0\]: invalid requirement 'cython <<3'",
        ),
        (
            "[tool.p2n.packages.x]\nlibraries = 'zlib'\n",
            r"packages.x.libraries: expected an array, got a string",
        ),
        (
            "[tool.p2n.packages.Foo_Bar]\n[tool.p2n.packages.foo-bar]\n",
            r"packages.foo-bar: names the same package as 'Foo_Bar'",
        ),
    ],
)
def test_errors_name_file_and_key_path(tmp_path: Path, tool: str, expected: str) -> None:
    with pytest.raises(InputError, match=expected) as caught:
        _read(tmp_path, tool)
    assert "\n" not in str(caught.value)
    assert "pyproject.toml" in str(caught.value)


def test_both_files_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"p2n\.toml: overrides are also in pyproject\.toml"):
        _read(tmp_path, "[tool.p2n]\n", "")


def test_p2n_toml_errors_name_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"p2n.toml: packages.x.stdenv: expected true or false"):
        _read(tmp_path, "", "[packages.x]\nstdenv = 'yes'\n")


def test_generate_refuses_an_override_of_an_unlocked_package(tmp_path: Path) -> None:
    project = copy_project(EXAMPLE, tmp_path / "hello")
    with (project / "pyproject.toml").open("a") as pyproject:
        pyproject.write('\n[tool.p2n.packages.ritch]\nlibraries = ["zlib"]\n')
    result = run_p2n("generate", "--project", str(project))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "p2n: error: pyproject.toml: tool.p2n.packages.ritch: no package 'ritch' in uv.lock; "
        "did you mean 'rich'?"
    ]


def test_p2n_toml_is_recorded_as_an_input_for_check(tmp_path: Path) -> None:
    project = copy_project(EXAMPLE, tmp_path / "hello")
    (project / "p2n.toml").write_text('[packages.rich]\nlibraries = ["zlib"]\n')
    assert run_p2n("generate", "--project", str(project)).returncode == 0
    assert '"p2n.toml": "' in (project / "p2n" / "inputs.json").read_text()
    assert run_p2n("check", "--project", str(project)).returncode == 0
    (project / "p2n.toml").write_text('[packages.rich]\nlibraries = ["zlib", "libffi"]\n')
    stale = run_p2n("check", "--project", str(project))
    assert stale.returncode == 1
    assert "p2n.toml changed since generation" in stale.stderr
