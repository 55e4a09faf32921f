"""Real public projects, one per build backend, built with ``sandbox = true``.

Each row of ``ROWS`` (listed in docs/build-matrix.md) is a real project whose
sdist comes from the package index, pinned by sha256. It is built twice:

- **as the root project**: the unpacked sdist is the project directory,
  locked with ``uv lock`` and generated with ``p2n generate``. For the rows
  whose version comes from git the sdist's ``PKG-INFO`` (the fallback those
  plugins read) is removed and the tree is committed to a local git repository
  and tagged, so only ``p2n generate`` asking the backend can give the version;
- **as a dependency built from its sdist**: one consumer project depends on
  every row, generated with ``--prefer-sdist`` for each of them.

One aggregate flake takes every root project and the consumer as inputs and
builds one probe derivation: inside the sandbox it imports each project from
its environment and runs its console script. ``p2n verify --same-store`` then
rebuilds that whole closure and compares (one Nix run for all rows), and one
row (uv_build, whose build runs the ``uv-build`` program from a wheel) gets the
full two-store verify.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_nix, run_p2n
from tests.support.localindex import uv

pytestmark = pytest.mark.nix

EXCLUDE_NEWER = "2026-11-01T00:00:00Z"
SYSTEM = "x86_64-linux"


@dataclass(frozen=True)
class Row:
    """One backend of the matrix and the real project that stands for it."""

    backend: str
    name: str
    version: str
    sha256: str
    module: str
    script: tuple[str, ...]
    """The console script and its arguments, run in the environment."""
    expect: str
    """Text the script's output contains."""
    git_tag: str | None = None
    """Version from git: the root project is a git repository with this tag."""
    version_files: tuple[str, ...] = ()
    """Files the version plugin writes into the source (untracked upstream: left out of git)."""
    repository_pyproject: tuple[tuple[str, str], ...] = ()
    """Replacements that undo what the backend wrote into the sdist's pyproject.toml (pdm-backend
    writes the version there), giving back the repository's text."""
    offline_pyproject: tuple[tuple[str, str], ...] = ()
    """Replacements in the root's pyproject.toml this machine needs: dependency-group entries
    fetched from GitHub (unreachable here; ``uv lock`` resolves every group)."""
    pyproject_extra: str = ""
    """Overrides the project needs (appended to the root's and the consumer's pyproject)."""
    root_pyproject: str | None = None
    """For an sdist without pyproject.toml: the one a uv user adds to lock it (no
    [build-system]: setuptools' legacy backend runs setup.py)."""

    @property
    def filename(self) -> str:
        return f"{self.name.replace('-', '_')}-{self.version}.tar.gz"


NINJA_OVERRIDE = '\n[tool.p2n.packages.meson-python]\nbuild-requires = ["ninja"]\n'

ROWS = (
    Row(
        "setuptools (pyproject.toml)",
        "python-slugify",
        "9.1.3",
        "90e997f2e0987239ce95e12f700086eb18e1d1d3ee22624fbbdbd095afca42b6",
        "slugify",
        ("slugify", "Hello Nix World"),
        "hello-nix-world",
    ),
    Row(
        "setuptools (setup.py only)",
        "cowsay",
        "6.0",
        "47445cb273684618a1786db8e8d05ec9258455f7eb74893e5d0933daafeb44ba",
        "cowsay",
        ("cowsay", "-t", "moo from nix"),
        "moo from nix",
        root_pyproject=(
            '[project]\nname = "cowsay"\ndynamic = ["version", "description", "readme", '
            '"authors", "license", "classifiers", "scripts", "urls"]\n\n'
            "[tool.uv]\npackage = true\n"
        ),
    ),
    Row(
        "setuptools-scm",
        "codespell",
        "2.4.3",
        "cbe085e331227b37bb86ef8bddd08dc768c704ee9a07ca869852c093fa2793e2",
        "codespell_lib",
        ("codespell", "--version"),
        "2.4.3",
        git_tag="v2.4.3",
        version_files=("codespell_lib/_version.py",),
    ),
    Row(
        "hatchling",
        "sqlparse",
        "0.6.0",
        "113c35c75365ab9cc9c7231d68c6428fb11c085fc8e9eb1ad659b7ddbf6cd2b9",
        "sqlparse",
        ("sqlformat", "--version"),
        "0.6.0",
    ),
    Row(
        "hatch-vcs",
        "isort",
        "6.0.1",
        "1cb5df28dfbc742e490c5e41bad6da41b805b0a8be7bc93cd0fb2a8a890ac450",
        "isort",
        ("isort", "--version-number"),
        "6.0.1",
        git_tag="6.0.1",
    ),
    Row(
        "flit_core",
        "wheel",
        "0.48.0",
        "94800765601e9171bf5d58d066e640662842bcedcbab982b2c90787a2c987322",
        "wheel",
        ("wheel", "version"),
        "0.48.0",
    ),
    Row(
        "poetry-core",
        "poethepoet",
        "0.49.0",
        "256b72c057b5f60341bbe09498212939e558341fac4ab59d0ce478aca04f0d2a",
        "poethepoet",
        ("poe", "--version"),
        "0.49.0",
    ),
    Row(
        "pdm-backend (scm version)",
        "findpython",
        "0.9.0",
        "497c6b5eb13734be2542dfb6a93267946339601cbc2f1138c8cd4d40311fefe5",
        "findpython",
        ("findpython", "--help"),
        "--providers",
        git_tag="0.9.0",
        version_files=("src/findpython/__version__.py",),
        repository_pyproject=(
            ("dynamic = []\n", 'dynamic = ["version"]\n'),
            ('version = "0.9.0"\n', ""),
        ),
    ),
    Row(
        "poetry-dynamic-versioning (PEP 621)",
        "atproto",
        "0.0.73",
        "0dc0e7f60ce99113b3371528d368e47566b44344812c7b0047229eda8b07eb13",
        "atproto",
        ("atp", "--help"),
        "AT Protocol",
        git_tag="v0.0.73",
        # The sdist's pyproject.toml as poetry-dynamic-versioning wrote it: the version made
        # static, [tool.poetry]'s placeholder version dropped (its PEP 621 mode needs it, and
        # puts it back at the table's end), the plugin disabled. The repository's text again:
        repository_pyproject=(
            ("dynamic = []\n", 'dynamic = ["version"]\n'),
            ('version = "0.0.73"\n', ""),
            (
                "]\n\n[tool.poetry-dynamic-versioning]\n",
                ']\nversion = "0.0.0"\n\n[tool.poetry-dynamic-versioning]\n',
            ),
            ("enable = false\n", "enable = true\n"),
        ),
        offline_pyproject=(
            (
                '    "autodoc-pydantic @ git+https://github.com/MarshalX/autodoc_pydantic.git@'
                "1bb5ffeb44d98034532964a6c21cd435b6b2318f ; python_version >= '3.12'\",\n",
                "",
            ),
        ),
    ),
    Row(
        "uv_build",
        "sillystrings",
        "0.2.0",
        "eb55c68eb6a109926eb837e6279b53ef2e3e9e2564c85aba0ec16d7f4e6b041e",
        "sillystrings",
        ("sillystrings", "--help"),
        "--version",
    ),
    Row(
        "mesonpy + ninja from a wheel",
        "meson-python",
        "0.22.1",
        "52c88628b0e5671592dc2306613fb5f6f3615fd24def059b9894f143b7f9a139",
        "mesonpy",
        ("meson", "--version"),  # meson-python has no script; meson is its dependency's
        ".",
        pyproject_extra=NINJA_OVERRIDE,
    ),
)


def _sdist(row: Row, cache: Path) -> Path:
    """The row's sdist from the index's file host, checked against the pinned sha256."""
    path = cache / row.filename
    if not path.is_file():
        request = urllib.request.Request(
            f"https://pypi.org/simple/{row.name}/",
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            files = json.load(response)["files"]
        [entry] = [f for f in files if f["filename"] == row.filename]
        with urllib.request.urlopen(entry["url"], timeout=300) as response:
            path.write_bytes(response.read())
    assert hashlib.sha256(path.read_bytes()).hexdigest() == row.sha256, row.filename
    return path


def _git(directory: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=matrix@example.com", "-c", "user.name=matrix", *args],
        cwd=directory,
        check=True,
        capture_output=True,
    )


def _root_project(row: Row, sdist: Path, root: Path) -> Path:
    """The unpacked sdist as a project: locked, in git with a tag for VCS rows, generated."""
    with tarfile.open(sdist) as archive:
        archive.extractall(root, filter="data")
    project = root / sdist.name.removesuffix(".tar.gz")
    if row.root_pyproject is not None:
        assert not (project / "pyproject.toml").exists()
        (project / "pyproject.toml").write_text(row.root_pyproject)
    for old, new in row.offline_pyproject:
        pyproject = (project / "pyproject.toml").read_text()
        assert old in pyproject, (row.name, old)
        (project / "pyproject.toml").write_text(pyproject.replace(old, new, 1))
    if row.pyproject_extra:
        with (project / "pyproject.toml").open("a") as appended:
            appended.write(row.pyproject_extra)
    if row.git_tag is not None:
        # The fallback the version plugins read without .git: gone, so git is the only source.
        (project / "PKG-INFO").unlink()
        for info in project.glob("*.egg-info"):
            shutil.rmtree(info)
        for written in row.version_files:
            (project / written).unlink()
        pyproject = (project / "pyproject.toml").read_text()
        for old, new in row.repository_pyproject:
            assert old in pyproject, (row.name, old)
            pyproject = pyproject.replace(old, new, 1)
        (project / "pyproject.toml").write_text(pyproject)
        _git(project, "init", "-q")
        _git(project, "add", "-A")
        _git(project, "commit", "-qm", f"{row.name} {row.version} from its sdist")
        _git(project, "tag", row.git_tag)
    locked = subprocess.run(
        [uv(), "lock", "--quiet", "--exclude-newer", EXCLUDE_NEWER],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert locked.returncode == 0, f"{row.name}: uv lock: {locked.stderr}"
    generated = run_p2n("generate", "--project", str(project), "--system", SYSTEM, "--no-dev")
    assert generated.returncode == 0, f"{row.name}: {generated.stderr}"
    if row.git_tag is not None:
        # A git flake sees tracked files only, as a user's would; -f as p2n says when the
        # project's .gitignore has Python's usual lib/ rule.
        _git(project, "add", "-A")
        _git(project, "add", "-f", "flake.nix", "p2n")
    return project


def _consumer(root: Path) -> Path:
    """One project depending on every row, each built from its sdist."""
    project = root / "consumer"
    project.mkdir()
    dependencies = ", ".join(f'"{row.name}=={row.version}"' for row in ROWS)
    extras = "".join(dict.fromkeys(row.pyproject_extra for row in ROWS))
    (project / "pyproject.toml").write_text(
        '[project]\nname = "matrix-consumer"\nversion = "1.0"\nrequires-python = ">=3.11"\n'
        f"dependencies = [{dependencies}]\n{extras}"
    )
    locked = subprocess.run(
        [uv(), "lock", "--quiet", "--exclude-newer", EXCLUDE_NEWER],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert locked.returncode == 0, locked.stderr
    prefer = [arg for row in ROWS for arg in ("--prefer-sdist", row.name)]
    generated = run_p2n("generate", "--project", str(project), "--system", SYSTEM, *prefer)
    assert generated.returncode == 0, generated.stderr
    return project


def _input_name(row: Row) -> str:
    return "root-" + row.name


AGGREGATE_FLAKE = """\
{{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
{inputs}
  outputs = {{ self, nixpkgs, ... }}@inputs:
    let
      system = "x86_64-linux";
      envs = {{
{envs}
      }};
    in
    {{
      packages.${{system}}.default = derivation ({{
        name = "build-matrix-probe";
        inherit system;
        builder = "${{envs.consumer}}/bin/python";
        args = [ ./probe.py ];
        rows = builtins.toJSON {rows};
      }} // envs);
    }};
}}
"""

# Runs inside the sandbox: each environment imports its project and runs its script.
PROBE_PY = """\
import json, os, subprocess
report = {}
for row in json.loads(os.environ["rows"]):
    for place in ("consumer", row["input"]):
        env = os.environ[place]
        imported = subprocess.run(
            [env + "/bin/python", "-c",
             "import importlib.metadata as m, " + row["module"] + "; print(m.version(" +
             repr(row["name"]) + "))"],
            capture_output=True, text=True)
        ran = subprocess.run([env + "/bin/" + row["script"][0], *row["script"][1:]],
                             capture_output=True, text=True)
        report[place + " " + row["name"]] = {
            "version": imported.stdout.strip() or imported.stderr[-300:],
            # stdout only when it ran: verify's environment perturbation sets a
            # locale the sandbox lacks, and bash's setlocale warning on stderr
            # would make this probe (not the packages) differ between builds.
            "script": (ran.stdout if ran.returncode == 0 else ran.stdout + ran.stderr)[-300:],
            "script_exit": ran.returncode,
        }
with open(os.environ["out"], "w") as out:
    json.dump(report, out, indent=1, sort_keys=True)
"""


@dataclass(frozen=True)
class Matrix:
    """The generated projects: the aggregate flake and each row's root project."""

    aggregate: Path
    roots: dict[str, Path]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    """Every root project, the consumer, and the aggregate flake (built by the tests)."""
    root = tmp_path_factory.mktemp("matrix")
    cache = root / "sdists"
    cache.mkdir()
    roots = {row.name: _root_project(row, _sdist(row, cache), root / "roots") for row in ROWS}
    consumer = _consumer(root)
    aggregate = root / "aggregate"
    aggregate.mkdir()
    inputs = "".join(
        f'  inputs."{_input_name(row)}" = {{ url = "{_flake_url(roots[row.name], row)}"; '
        'inputs.nixpkgs.follows = "nixpkgs"; };\n'
        for row in ROWS
    )
    inputs += (
        f'  inputs.consumer = {{ url = "path:{consumer}"; inputs.nixpkgs.follows = "nixpkgs"; }};\n'
    )
    envs = "".join(
        f'        "{name}" = inputs."{name}".packages.${{system}}.default;\n'
        for name in map(_input_name, ROWS)
    )
    envs += "        consumer = inputs.consumer.packages.${system}.default;\n"
    rows = [
        {
            "name": row.name,
            "module": row.module,
            "script": list(row.script),
            "input": _input_name(row),
        }
        for row in ROWS
    ]
    (aggregate / "flake.nix").write_text(
        AGGREGATE_FLAKE.format(
            inputs=inputs,
            envs=envs,
            rows="(builtins.fromJSON " + _nix_string(json.dumps(rows)) + ")",
        )
    )
    (aggregate / "probe.py").write_text(PROBE_PY)
    yield Matrix(aggregate, roots)


def _flake_url(project: Path, row: Row) -> str:
    # A git repository is a git+file flake, as a user's checkout is: Nix copies tracked files.
    return f"git+file://{project}" if row.git_tag is not None else f"path:{project}"


def _nix_string(text: str) -> str:
    return json.dumps(text).replace("${", "\\${")


@pytest.fixture(scope="module")
def probe(matrix: Matrix, standin_override: list[str]) -> dict[str, Any]:
    """Build the aggregate (every environment) and read what the probe saw in the sandbox."""
    built = run_nix(
        "build", "--json", "--no-link", "-L", f"path:{matrix.aggregate}", *standin_override
    )
    assert built.returncode == 0, built.stderr[-6000:]
    report: dict[str, Any] = json.loads(
        Path(json.loads(built.stdout)[0]["outputs"]["out"]).read_text()
    )
    return report


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_root_project_and_sdist_dependency_import_and_run(probe: dict[str, Any], row: Row) -> None:
    for place in ("consumer", _input_name(row)):
        seen = probe[f"{place} {row.name}"]
        assert seen["version"] == row.version, (place, seen)
        assert seen["script_exit"] == 0, (place, seen)
        assert row.expect in seen["script"], (place, seen)


def test_every_environment_verifies_in_the_same_store(
    matrix: Matrix, probe: dict[str, Any], standin_override: list[str]
) -> None:
    verified = run_p2n(
        "verify", "--same-store", "-q", f"path:{matrix.aggregate}", *standin_override
    )
    assert verified.returncode == 0, verified.stdout[-4000:] + verified.stderr[-4000:]


def test_uv_build_root_verifies_in_two_stores(
    matrix: Matrix, probe: dict[str, Any], standin_override: list[str]
) -> None:
    """The full verify: two fresh stores, perturbed; uv-build runs in both builds."""
    project = matrix.roots["sillystrings"]
    verified = run_p2n("verify", "-q", f"path:{project}", *standin_override)
    assert verified.returncode == 0, verified.stdout[-4000:] + verified.stderr[-4000:]


@pytest.mark.parametrize(
    "row", [row for row in ROWS if row.git_tag], ids=[r.name for r in ROWS if r.git_tag]
)
def test_versions_from_git_are_recorded_and_fresh(matrix: Matrix, row: Row) -> None:
    project = matrix.roots[row.name]
    lock_nix = (project / "p2n" / "lock.nix").read_text()
    assert f'pretendVersion = "{row.version}";' in lock_nix
    assert f'git = "{row.git_tag}-0-g' in (project / "p2n" / "build-systems.toml").read_text()
    check = run_p2n("check", "--project", str(project))
    assert check.returncode == 0, check.stdout + check.stderr
