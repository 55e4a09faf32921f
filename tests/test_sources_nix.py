"""git dependencies and the whole picture: a workspace with an sdist-only dependency,
a git dependency and a native wheel, generated and built with no hand-written Nix.

The git repository is local (file:// URL); the sdist comes from a loopback index;
greenlet's manylinux wheel (libstdc++) comes from PyPI and is imported for real.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, run_nix, run_p2n
from tests.support.localindex import build_sdist, serve, uv, write_simple_index

pytestmark = pytest.mark.nix


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=p2n", "-c", "user.email=p2n@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture(scope="module")
def git_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository whose package lives in a subdirectory, on a branch besides the default."""
    repo = tmp_path_factory.mktemp("gitdep")
    _git("init", "--quiet", "--initial-branch=main", cwd=repo)
    (repo / "README").write_text("not a package\n")
    _git("add", "-A", cwd=repo)
    _git("commit", "--quiet", "-m", "start", cwd=repo)
    _git("checkout", "--quiet", "-b", "feature", cwd=repo)
    package = repo / "python" / "demo_git"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('VALUE = "from git"\n')
    (repo / "python" / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n'
        '[project]\nname = "demo-git"\nversion = "0.3.0"\n'
    )
    (repo / "python" / "run.sh").write_text("#!/bin/sh\n")
    (repo / "python" / "run.sh").chmod(0o755)
    _git("add", "-A", cwd=repo)
    _git("commit", "--quiet", "-m", "package", cwd=repo)
    _git("checkout", "--quiet", "main", cwd=repo)
    return repo


@pytest.fixture(scope="module")
def index_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    scratch = tmp_path_factory.mktemp("ws-sdists")
    sdist = build_sdist(FIXTURES / "sdists" / "flit", scratch / "dist", scratch)
    write_simple_index([sdist], scratch / "index")
    with serve(scratch / "index") as url:
        yield url


WORKSPACE_ROOT = """\
[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["member-a", "demo-flit==1.0", "demo-git", "greenlet==3.1.1"]

[project.scripts]
app = "app:main"

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[tool.uv.sources]
member-a = { workspace = true }
member-b = { workspace = true }
demo-git = { git = "@repo@", branch = "feature", subdirectory = "python" }

[tool.uv.workspace]
members = ["members/*"]

[[tool.uv.index]]
name = "local"
url = "@index@/simple/"
"""

APP = """\
import demo_flit, demo_git, greenlet, member_a


def main():
    switched = greenlet.greenlet(lambda: "greenlet").switch()
    print(member_a.greet(), demo_flit.VALUE, demo_git.VALUE, switched)
"""


def _member(root: Path, name: str, body: str, deps: list[str]) -> None:
    directory = root / "members" / name
    module = directory / "src" / name.replace("-", "_")
    module.mkdir(parents=True)
    (module / "__init__.py").write_text(body)
    (directory / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "1.0"\ndependencies = {json.dumps(deps)}\n\n'
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n'
        "[tool.uv.sources]\nmember-b = { workspace = true }\n"
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, git_repo: Path, index_url: str) -> Path:
    root = tmp_path_factory.mktemp("workspace")
    (root / "pyproject.toml").write_text(
        WORKSPACE_ROOT.replace("@repo@", f"file://{git_repo}").replace("@index@", index_url)
    )
    (root / "src" / "app").mkdir(parents=True)
    (root / "src" / "app" / "__init__.py").write_text(APP)
    _member(
        root,
        "member-a",
        "import member_b\n\n\ndef greet():\n    return member_b.NAME\n",
        ["member-b"],
    )
    _member(root, "member-b", 'NAME = "member-b via member-a"\n', [])
    subprocess.run([uv(), "lock", "--quiet"], cwd=root, check=True, capture_output=True)
    # The git repository is a file:// URL of this machine: an explicit opt-in, noted.
    result = run_p2n(
        "generate", "--project", str(root), "--system", "x86_64-linux", "--allow-file-urls"
    )
    assert result.returncode == 0, result.stderr
    assert "allowed by --allow-file-urls" in (root / "p2n" / "lock.nix").read_text()
    return root


def test_git_source_is_pinned_by_commit_and_nar_hash(workspace: Path, git_repo: Path) -> None:
    lock_nix = (workspace / "p2n" / "lock.nix").read_text()
    rev = _git("rev-parse", "feature", cwd=git_repo)
    assert f'url = "file://{git_repo}";' in lock_nix
    assert f'rev = "{rev}";' in lock_nix
    assert 'narHash = "sha256-' in lock_nix
    assert 'subdirectory = "python";' in lock_nix
    recorded = (workspace / "p2n" / "build-systems.toml").read_text()
    assert f'key = "git file://{git_repo}@{rev}#python"' in recorded


def test_workspace_with_sdist_git_and_native_wheel_runs(
    workspace: Path, standin_override: list[str]
) -> None:
    result = run_nix("run", f"path:{workspace}", *standin_override)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "member-b via member-a flit from git greenlet"


SIX_URL = (
    "https://files.pythonhosted.org/packages/b7/ce/149a00dd41f10bc29e5921b496af8b574d8413afcd5e30"
    "dfa0ed46c2cc5e/six-1.17.0-py2.py3-none-any.whl"
)


def test_direct_url_wheel_path_sdist_and_directory(
    tmp_path: Path, standin_override: list[str]
) -> None:
    project = tmp_path / "paths"
    (project / "libdir" / "libdir_pkg").mkdir(parents=True)
    (project / "libdir" / "libdir_pkg" / "__init__.py").write_text('VALUE = "directory"\n')
    (project / "libdir" / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n'
        '[project]\nname = "libdir-pkg"\nversion = "2.0"\n'
    )
    sdist = build_sdist(FIXTURES / "sdists" / "flit", project / "dist", tmp_path)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "paths"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        f'dependencies = ["six @ {SIX_URL}", "demo-flit", "libdir-pkg"]\n\n'
        f'[tool.uv.sources]\ndemo-flit = {{ path = "dist/{sdist.name}" }}\n'
        'libdir-pkg = { path = "libdir" }\n'
    )
    subprocess.run([uv(), "lock", "--quiet"], cwd=project, check=True, capture_output=True)
    generated = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert generated.returncode == 0, generated.stderr
    lock_nix = (project / "p2n" / "lock.nix").read_text()
    assert f'path = "dist/{sdist.name}";' in lock_nix
    assert f'url = "{SIX_URL}";' in lock_nix
    result = run_nix("build", f"path:{project}", *standin_override, "-o", str(project / "result"))
    assert result.returncode == 0, result.stderr
    code = (
        "import six, demo_flit, libdir_pkg; "
        "print(six.__version__, demo_flit.VALUE, libdir_pkg.VALUE)"
    )
    ran = subprocess.run(
        [str(project / "result" / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    assert ran.stdout.split() == ["1.17.0", "flit", "directory"]
