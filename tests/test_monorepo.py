"""Monorepos: local sources anywhere inside the repository that holds the project.

A project in ``repo/apps/hello`` depends on a library in ``repo/libs/greet``
(a uv path dependency, ``../../libs/greet``) and on a wheel and an sdist in
``repo/dist``. The flake in ``apps/hello`` reads them through ``../..``, which
Nix allows because it copies the whole repository (``git+file:…?dir=apps/hello``,
what ``nix build`` in ``apps/hello`` means) or the tree under ``--root`` (here a
tarball with ``?dir=``). Locks are made by uv at test time; outside the
repository (or ``--root``) stays a one-line error, exit 2, nothing written.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import run_nix, run_p2n
from tests.support.localindex import uv

APP = "apps/hello"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _hatch_package(directory: Path, name: str, body: str, extra: str = "") -> None:
    _write(
        directory / "pyproject.toml",
        f'[project]\nname = "{name}"\nversion = "1.0"\nrequires-python = ">=3.11"\n{extra}\n'
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n',
    )
    _write(directory / "src" / name / "__init__.py", body)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def _built(parent: Path, out: Path, name: str, kind: str) -> Path:
    """A wheel or sdist of a one-module hatchling package, built by uv into ``out``."""
    _hatch_package(parent / f"{name}-src", name, f'MARK = "{name} {kind[2:]}"\n')
    built = subprocess.run(
        [uv(), "build", kind, "--quiet", "--out-dir", str(out), str(parent / f"{name}-src")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (out / ".gitignore").unlink(missing_ok=True)  # uv build's; these files are committed
    (made,) = out.glob(f"{name}-*" + (".whl" if kind == "--wheel" else ".tar.gz"))
    return made


def _monorepo(parent: Path, *, git: bool = True, greet_at: str = "libs/greet") -> Path:
    """``repo/`` with the app, its path dependency, a local wheel and sdist; uv-locked."""
    repo = parent / "repo"
    greet = (repo / greet_at).resolve()
    _hatch_package(greet, "greet", 'def hello() -> str:\n    return "hello from greet"\n')
    wheel = _built(parent, repo / "dist", "tiny", "--wheel")
    sdist = _built(parent, repo / "dist", "sdtiny", "--sdist")
    app = repo / APP
    greet_location = Path(os.path.relpath(greet, app.resolve())).as_posix()
    _hatch_package(
        app,
        "hello_app",
        "import greet, sdtiny, tiny\n\n\ndef main() -> None:\n"
        "    print(greet.hello(), tiny.MARK, sdtiny.MARK)\n",
        'dependencies = ["greet", "tiny", "sdtiny"]\n\n'
        '[project.scripts]\nhello-app = "hello_app:main"\n\n'
        f'[tool.uv.sources]\ngreet = {{ path = "{greet_location}" }}\n'
        f'tiny = {{ path = "../../dist/{wheel.name}" }}\n'
        f'sdtiny = {{ path = "../../dist/{sdist.name}" }}\n',
    )
    locked = subprocess.run(
        [uv(), "lock", "--quiet"], cwd=app, capture_output=True, text=True, check=False
    )
    assert locked.returncode == 0, locked.stderr
    if git:
        _git(repo, "init", "--quiet")
    return repo


def _generate(repo: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_p2n("generate", "--project", str(repo / APP), "--system", "x86_64-linux", *extra)


def test_sources_inside_the_git_repository_are_read_through_the_parent(tmp_path: Path) -> None:
    repo = _monorepo(tmp_path)
    result = _generate(repo)
    assert result.returncode == 0, result.stderr
    lock_nix = (repo / APP / "p2n" / "lock.nix").read_text()
    assert 'path = "../../libs/greet";' in lock_nix
    assert 'path = "../../dist/tiny-1.0-py3-none-any.whl";' in lock_nix
    assert 'path = "../../dist/sdtiny-1.0.tar.gz";' in lock_nix
    assert str(tmp_path) not in lock_nix  # no machine paths in generated files
    checked = run_p2n("check", "--project", str(repo / APP))
    assert checked.returncode == 0, checked.stderr


def test_outside_a_git_repository_the_project_directory_is_the_limit(tmp_path: Path) -> None:
    repo = _monorepo(tmp_path, git=False)
    result = _generate(repo)
    assert result.returncode == 2, result.stdout
    message = result.stderr.strip()
    assert "\n" not in message, message
    assert "package greet at ../../libs/greet is outside the project directory" in message
    assert "outside the project directory" in message and "--root DIR" in message
    assert not (repo / APP / "p2n").exists()


def test_root_option_widens_the_limit_and_check_remembers_it(tmp_path: Path) -> None:
    repo = _monorepo(tmp_path, git=False)
    result = _generate(repo, "--root", str(repo))
    assert result.returncode == 0, result.stderr
    lock_nix = (repo / APP / "p2n" / "lock.nix").read_text()
    assert '"root": "../.."' in lock_nix  # recorded relative: the same on every machine
    checked = run_p2n("check", "--project", str(repo / APP))
    assert checked.returncode == 0, checked.stderr


def test_a_source_outside_the_git_repository_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "greet"
    repo = _monorepo(tmp_path, greet_at=str(outside))
    result = _generate(repo)
    assert result.returncode == 2, result.stdout
    message = result.stderr.strip()
    assert "\n" not in message, message
    assert f"outside the git repository {repo.resolve()}" in message
    assert not (repo / APP / "p2n").exists()


def test_a_source_outside_the_named_root_is_refused(tmp_path: Path) -> None:
    repo = _monorepo(tmp_path, git=False)
    result = _generate(repo, "--root", str(repo / "apps"))
    assert result.returncode == 2, result.stdout
    assert f"is outside --root {(repo / 'apps').resolve()}" in result.stderr
    assert not (repo / APP / "p2n").exists()


def test_root_must_hold_the_project(tmp_path: Path) -> None:
    repo = _monorepo(tmp_path, git=False)
    (tmp_path / "other").mkdir()
    result = _generate(repo, "--root", str(tmp_path / "other"))
    assert result.returncode == 2, result.stdout
    assert "is not inside it" in result.stderr.strip()


def test_symlink_out_of_the_repository_counts_as_outside(tmp_path: Path) -> None:
    repo = _monorepo(tmp_path)
    moved = tmp_path / "elsewhere-libs"
    shutil.move(repo / "libs", moved)
    (repo / "libs").symlink_to(moved)
    result = _generate(repo)
    assert result.returncode == 2, result.stdout
    assert "outside the git repository" in result.stderr


@pytest.fixture(scope="module")
def committed_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The monorepo generated and committed, as a user would push it."""
    repo = _monorepo(tmp_path_factory.mktemp("monorepo"))
    result = _generate(repo)
    assert result.returncode == 0, result.stderr
    _git(repo, "add", "-A")
    _git(repo, "commit", "--quiet", "-m", "monorepo")
    return repo


def _built_output(reference: str, standin_override: list[str], cwd: Path | None = None) -> str:
    built = run_nix("build", reference, *standin_override, "--json", "--no-link", cwd=cwd)
    assert built.returncode == 0, built.stderr
    environment = Path(json.loads(built.stdout)[0]["outputs"]["out"])
    ran = subprocess.run(
        [str(environment / "bin" / "hello-app")], capture_output=True, text=True, check=False
    )
    assert ran.returncode == 0, ran.stderr
    return ran.stdout.strip()


@pytest.mark.nix
@pytest.mark.parametrize(
    ("reference", "run_in"),
    [
        ("git+file://{repo}?dir=" + APP, "."),
        ("./" + APP, "."),  # from the repository's root: Nix makes it git+file:…?dir=apps/hello
        (".", APP),  # `nix build` in the project, as its README says
    ],
)
def test_flake_in_a_subdirectory_builds_with_sources_from_the_repository(
    committed_repo: Path, standin_override: list[str], reference: str, run_in: str
) -> None:
    output = _built_output(
        reference.format(repo=committed_repo), standin_override, cwd=committed_repo / run_in
    )
    assert output == "hello from greet tiny wheel sdtiny sdist"


@pytest.mark.nix
def test_root_option_builds_from_a_tree_outside_git(
    tmp_path: Path, standin_override: list[str]
) -> None:
    """No git: the tree under --root reaches Nix whole, here as a tarball with ?dir=.

    (Nix 2.8 refuses ``path:…?dir=``: "path URL … has unsupported parameter 'dir'".)
    """
    repo = _monorepo(tmp_path, git=False)
    result = _generate(repo, "--root", str(repo))
    assert result.returncode == 0, result.stderr
    tarball = tmp_path / "repo.tar.gz"
    subprocess.run(["tar", "-czf", str(tarball), "-C", str(tmp_path), "repo"], check=True)
    output = _built_output(f"file://{tarball}?dir={APP}", standin_override)
    assert output == "hello from greet tiny wheel sdtiny sdist"


@pytest.mark.nix
def test_dev_shell_imports_the_library_from_the_working_tree(
    committed_repo: Path, standin_override: list[str]
) -> None:
    result = run_nix(
        "develop",
        *standin_override,
        "-c",
        "python",
        "-c",
        "import greet; print(greet.__file__)",
        cwd=committed_repo / APP,
    )
    assert result.returncode == 0, result.stderr
    imported = Path(result.stdout.strip().splitlines()[-1]).resolve()
    assert imported == (committed_repo / "libs/greet/src/greet/__init__.py").resolve()
