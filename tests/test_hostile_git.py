"""A hostile lock must not run commands through git (issue 13, items 1 and 6).

Each lock format names a git source whose URL, ref or subdirectory is made to
reach ``git`` as an option (``--upload-pack=…`` runs a command) or as a remote
helper (``ext::`` runs a command). p2n must refuse it with one line, exit 2,
write nothing, and the command must not have run.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from pyproject2nix.errors import InputError
from pyproject2nix.gitsource import (
    GitSource,
    check_git_policy,
    fetch_tree,
    git_environment,
    parse_git_location,
)
from pyproject2nix.select import FilePolicy
from tests.helpers import run_p2n

SHA = "0123456789abcdef0123456789abcdef01234567"


APP_PYPROJECT = (
    '[project]\nname = "app"\nversion = "1"\nrequires-python = ">=3.11"\n'
    'dependencies = ["evil"]\n'
)


def _toml(value: str) -> str:
    return json.dumps(value)


def _uv_project(project: Path, location: str) -> None:
    (project / "pyproject.toml").write_text(APP_PYPROJECT)
    (project / "uv.lock").write_text(
        'version = 1\nrevision = 3\nrequires-python = ">=3.11"\n'
        '[[package]]\nname = "app"\nversion = "1"\nsource = { editable = "." }\n'
        'dependencies = [{ name = "evil" }]\n'
        '[package.metadata]\nrequires-dist = [{ name = "evil" }]\n'
        '[[package]]\nname = "evil"\nversion = "1"\n'
        f"source = {{ git = {_toml(location)} }}\n"
    )


# The content-hash Poetry 1.x writes for a pyproject.toml without [tool.poetry].
NO_POETRY_TABLE_HASH = hashlib.sha256(
    json.dumps(
        {"dependencies": None, "dev-dependencies": None, "extras": None, "source": None},
        sort_keys=True,
    ).encode()
).hexdigest()


def _poetry_project(project: Path, url: str) -> None:
    (project / "pyproject.toml").write_text(APP_PYPROJECT)
    (project / "poetry.lock").write_text(
        '[[package]]\nname = "evil"\nversion = "1"\ndescription = ""\noptional = false\n'
        'python-versions = "*"\ngroups = ["main"]\nfiles = []\n'
        f'[package.source]\ntype = "git"\nurl = {_toml(url)}\nreference = "main"\n'
        f'resolved_reference = "{SHA}"\n'
        '[metadata]\nlock-version = "2.1"\npython-versions = ">=3.11"\n'
        f'content-hash = "{NO_POETRY_TABLE_HASH}"\n'
    )


def _pylock_project(project: Path, url: str) -> None:
    (project / "pyproject.toml").write_text(APP_PYPROJECT)
    (project / "pylock.toml").write_text(
        'lock-version = "1.0"\ncreated-by = "test"\nrequires-python = ">=3.11"\n'
        '[[packages]]\nname = "app"\ndirectory = { path = ".", editable = true }\n'
        '[[packages]]\nname = "evil"\n'
        f'vcs = {{ type = "git", url = {_toml(url)}, commit-id = "{SHA}" }}\n'
    )


def _upload_pack(marker: Path) -> str:
    return f"--upload-pack=touch {marker};false"


@pytest.mark.parametrize("write", [_uv_project, _poetry_project, _pylock_project])
def test_upload_pack_url_runs_nothing_from_any_lock_format(write: object, tmp_path: Path) -> None:
    """Item 1: the critical hole. Before the fix the marker file was created."""
    project = tmp_path / "project"
    project.mkdir()
    marker = tmp_path / "pwned"
    url = _upload_pack(marker)
    assert callable(write)
    write(project, url if write is not _uv_project else f"{url}#{SHA}")
    result = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert not marker.exists(), "a command from the lock ran"
    assert result.returncode == 2, result.stderr
    assert "must not start with '-'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (project / "flake.nix").exists() and not (project / "p2n").exists()


@pytest.mark.parametrize(
    ("location", "problem"),
    [
        (f"ext::sh -c touch% /tmp/x#{SHA}", "must not start with '-' or hold spaces"),
        (f"ext::touch%/tmp/x#{SHA}", "remote helpers"),
        (f"fd::17#{SHA}", "remote helpers"),
        (f"git://example.org/r#{SHA}", "scheme 'git' is refused"),
        (f"ftp://example.org/r#{SHA}", "scheme 'ftp' is refused"),
        (f"ssh://-oProxyCommand=touch%20x/r#{SHA}", "looks like an option"),
        (f"git+ssh://-oProxyCommand=x@h/r#{SHA}", "looks like an option"),
        (f"-oProxyCommand=x:r#{SHA}", "must not start with '-'"),
        (f"git@-oProxyCommand=x:r#{SHA}", "looks like an option"),
        (f"ssh://git@-oProxy/r#{SHA}", "looks like an option"),
        (f"https://h:-1/r#{SHA}", "the port is not a number"),
        (f"https://h/r?rev=--output=/tmp/x#{SHA}", "ref '--output=/tmp/x' looks like an option"),
        (f"https://h/r?branch=-x#{SHA}", "looks like an option"),
        (f"https://h/r?subdirectory=../../etc#{SHA}", "must stay inside the repository"),
        (f"https://h/r?subdirectory=/etc#{SHA}", "must stay inside the repository"),
        (f"https://h/r?subdirectory=--x#{SHA}", "must stay inside the repository"),
        (f"relative/repo#{SHA}", "not a URL"),
        (f"https://h/r\n--upload-pack=x#{SHA}", "must not start with '-' or hold spaces"),
    ],
)
def test_option_like_and_unlisted_values_are_refused(location: str, problem: str) -> None:
    with pytest.raises(InputError, match="fix the lock and re-lock") as caught:
        parse_git_location(location, "uv.lock: evil")
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("location", "url"),
    [
        (f"git+ssh://git@github.com/org/repo.git#{SHA}", "ssh://git@github.com/org/repo.git"),
        (f"/srv/repos/demo#{SHA}", "file:///srv/repos/demo"),
        (f"file:///srv/repos/demo#{SHA}", "file:///srv/repos/demo"),
        (f"http://mirror.example/r#{SHA}", "http://mirror.example/r"),
    ],
)
def test_allowed_schemes_parse(location: str, url: str) -> None:
    assert parse_git_location(location, "uv.lock").url == url


def test_git_sources_follow_the_url_policy() -> None:
    """Item 6: http:// to a remote host and file:// need the opt-ins, and are noted."""
    remote_http = GitSource("http://mirror.example/r", SHA)
    local = GitSource("file:///srv/repos/demo", SHA)
    with pytest.raises(InputError, match=r"plain http://.*--allow-insecure-http"):
        check_git_policy(remote_http, "evil", "uv.lock: package evil", FilePolicy())
    with pytest.raises(InputError, match=r"repository of this machine.*--allow-file-urls"):
        check_git_policy(local, "evil", "uv.lock: package evil", FilePolicy())
    http_note = check_git_policy(
        remote_http, "evil", "uv.lock", FilePolicy(allow_insecure_http=True)
    )
    assert http_note is not None and "--allow-insecure-http" in http_note
    file_note = check_git_policy(local, "evil", "uv.lock", FilePolicy(allow_file_urls=True))
    assert file_note is not None and "--allow-file-urls" in file_note
    for safe in ("https://h/r", "ssh://git@h/r", "http://127.0.0.1:8000/r"):
        assert check_git_policy(GitSource(safe, SHA), "evil", "uv.lock", FilePolicy()) is None


def test_file_git_source_needs_the_opt_in_and_is_noted(tmp_path: Path) -> None:
    """Item 6 end to end: refused without --allow-file-urls; with it, lock.nix warns."""
    project = tmp_path / "project"
    project.mkdir()
    _uv_project(project, f"file:///srv/repos/demo#{SHA}")
    refused = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert refused.returncode == 2, refused.stderr
    assert "--allow-file-urls" in refused.stderr
    assert not (project / "p2n").exists()


def test_git_runs_with_dashdash_and_one_protocol(tmp_path: Path) -> None:
    """Defence in depth: even a GitSource that skipped parsing cannot become an option,
    and a remote helper cannot run."""
    marker = tmp_path / "pwned"
    for url in (_upload_pack(marker), f"ext::sh -c touch% {marker}"):
        with pytest.raises(InputError, match="git fetch"):
            fetch_tree(GitSource(url, SHA), "uv.lock: evil", lambda _: None)
        assert not marker.exists(), url
    env = git_environment("https://example.org/r")
    assert env["GIT_ALLOW_PROTOCOL"] == "https"
    assert env["GIT_TERMINAL_PROMPT"] == "0"


def test_ext_protocol_is_refused_by_git_itself(tmp_path: Path) -> None:
    """GIT_ALLOW_PROTOCOL beats a user's ``protocol.ext.allow=always``."""
    marker = tmp_path / "pwned"
    env = git_environment("https://example.org/r")
    env["GIT_CONFIG_COUNT"] = "1"
    env["GIT_CONFIG_KEY_0"] = "protocol.ext.allow"
    env["GIT_CONFIG_VALUE_0"] = "always"
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    proc = subprocess.run(
        ["git", "fetch", "--", f"ext::sh -c touch% {marker}", "main"],
        cwd=repo,
        env=env,
        capture_output=True,
        check=False,
    )
    assert proc.returncode != 0
    assert not marker.exists()


@pytest.mark.nix
def test_nix_positional_arguments_follow_dashdash(tmp_path: Path) -> None:
    """An option-like path reaches Nix as a path: before, ``nix hash path --version``
    printed Nix's version and p2n took it for a hash."""
    from pyproject2nix.errors import NixError
    from pyproject2nix.nixcli import build_log, nar_hash

    with pytest.raises(NixError):
        nar_hash("--version")
    assert build_log("--version", store=None) == ""


def _commit_repo(repo: Path) -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
            cwd=repo,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    git("init", "--quiet")
    git("add", "-A")
    git("commit", "--quiet", "-m", "hostile")
    return git("rev-parse", "HEAD")


@pytest.mark.parametrize("link", ["pyproject.toml", "sub"])
def test_git_tree_symlink_out_is_not_read(tmp_path: Path, link: str) -> None:
    """A repository's pyproject.toml (or subdirectory) linking to a file of this machine:
    p2n read it and quoted its first bad line in the error."""
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "pyproject.toml").write_text("machine example login me password hunter2\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    target = secret / "pyproject.toml" if link == "pyproject.toml" else secret
    (repo / link).symlink_to(target)
    sha = _commit_repo(repo)
    project = tmp_path / "project"
    project.mkdir()
    query = "?subdirectory=sub" if link == "sub" else ""
    _uv_project(project, f"file://{repo}{query}#{sha}")
    result = run_p2n(
        "generate", "--project", str(project), "--system", "x86_64-linux", "--allow-file-urls"
    )
    assert result.returncode == 2, result.stderr
    assert "is a symlink out of the repository" in result.stderr
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize("write", [_uv_project, _poetry_project, _pylock_project])
def test_every_reader_parses_its_git_source_once_into_the_model(
    write: Callable[[Path, str], None], tmp_path: Path
) -> None:
    """Issue 14: the readers give a checked GitSource, not a string to re-parse later."""
    url = "https://example.org/org/evil.git"
    write(tmp_path, f"{url}?rev=main#{SHA}" if write is _uv_project else url)
    from pyproject2nix.lockfiles import find_lock, read_lock
    from pyproject2nix.project import read_project

    lock = read_lock(find_lock(tmp_path), read_project(tmp_path))
    (evil,) = lock.by_name(canonicalize_name("evil"))
    assert evil.source.git is not None
    assert (evil.source.git.url, evil.source.git.rev) == ("https://example.org/org/evil.git", SHA)
    assert evil.source.git.subdirectory is None


@pytest.mark.parametrize("write", [_poetry_project, _pylock_project])
def test_structured_readers_refuse_a_hostile_git_url_when_reading(
    write: Callable[[Path, str], None], tmp_path: Path
) -> None:
    write(tmp_path, "ext::sh -c touch% /tmp/x")
    from pyproject2nix.lockfiles import find_lock, read_lock
    from pyproject2nix.project import read_project

    with pytest.raises(InputError, match=r"remote helpers|must not start with '-' or hold"):
        read_lock(find_lock(tmp_path), read_project(tmp_path))
