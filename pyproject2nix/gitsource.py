"""git sources: the lock's URL parsed, the pinned commit fetched, its NAR hash computed.

The generated Nix fetches git sources with ``builtins.fetchGit { url; rev;
narHash; allRefs = true; }``: pure (pinned by commit and content hash) on
Nix 2.8 and current Nix. p2n computes the NAR hash at generate time from
``git archive`` of the commit (what Nix's git fetcher exports: no ``.git``,
files' executable bits and symlinks kept, no submodules) and records it in
the build-system lock, so regenerating does not fetch again.

Every value of a git source is hostile until checked (docs/threat-model.md):
the URL's scheme is allowlisted (https, ssh; http and file:// only with the
``--allow-*`` opt-ins), nothing may look like an option, and git runs with
``--`` before positional arguments and ``GIT_ALLOW_PROTOCOL`` set to the one
protocol the URL names, so ``ext::`` and friends never run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from . import fsread
from .errors import InputError
from .model import GitSource

__all__ = [
    "GIT_SCHEMES",
    "GitSource",
    "check_git_policy",
    "fetch_tree",
    "git_environment",
    "git_source",
    "nar_hash_of_tar",
    "parse_git_location",
]

if TYPE_CHECKING:  # lock readers parse git sources; only fetching needs the rest
    import subprocess
    import tarfile

    from .select import FilePolicy

_SHA = frozenset("0123456789abcdef")


GIT_SCHEMES = ("https", "ssh", "http", "file")
"""Schemes a git URL may have (``git+`` stripped); http and file need an opt-in."""


def _refuse(where: str, location: str, problem: str) -> InputError:
    return InputError(f"{where}: git source {location!r}: {problem}; fix the lock and re-lock")


def _unsafe_text(text: str) -> bool:
    """Option-like (leading ``-``), or carrying whitespace or control characters."""
    return text.startswith("-") or any(c.isspace() or not c.isprintable() for c in text)


def parse_git_location(location: str, where: str) -> GitSource:
    """uv's ``URL?rev=…&subdirectory=…#<sha>`` (also ``git+`` and scp-like URLs).

    Refuses what could reach git as an option or a command: see :func:`git_source`.
    """
    url = location.removeprefix("git+")
    if _unsafe_text(url):
        raise _refuse(where, location, "a URL must not start with '-' or hold spaces")
    base, _, fragment = url.partition("#")
    base, _, query_text = base.partition("?")
    query = parse_qs(query_text)
    raw_subdirectory = query.get("subdirectory", [None])[0]
    return git_source(
        base,
        fragment or (query.get("rev") or [""])[0],
        where,
        subdirectory=unquote(raw_subdirectory) if raw_subdirectory else None,
        ref=next((query[k][0] for k in ("tag", "branch", "rev") if k in query), None),
        shown=location,
    )


def git_source(
    url: str,
    rev: str,
    where: str,
    *,
    subdirectory: str | None = None,
    ref: str | None = None,
    shown: str | None = None,
) -> GitSource:
    """A checked git source from a lock's fields (``shown``: the lock's text, for errors).

    Refuses option-like URLs, hosts, refs and subdirectories, schemes other than
    :data:`GIT_SCHEMES` (``ext::``, ``fd::``, ``git://``), subdirectories that
    leave the checkout, and a rev that is not a full commit sha.
    """
    location = shown if shown is not None else url
    text = url.removeprefix("git+")
    if _unsafe_text(text):
        raise _refuse(where, location, "a URL must not start with '-' or hold spaces")
    if "::" in text:  # git's <transport>::<address> syntax: remote helpers run commands
        raise _refuse(where, location, "git remote helpers (ext::, fd::) are refused")
    if "://" not in text and ":" in text.split("/", 1)[0]:
        # scp-like git@host:org/repo.git -> ssh://git@host/org/repo.git
        host, _, path = text.partition(":")
        if not host:
            raise _refuse(where, location, "no host before ':'")
        text = f"ssh://{host}/{path}"
    elif "://" not in text:
        if not text.startswith("/"):
            raise _refuse(where, location, "not a URL (https://, ssh://) or an absolute path")
        text = "file://" + text
    parts = urlsplit(text)
    if parts.scheme not in GIT_SCHEMES:
        raise _refuse(
            where, location, f"scheme {parts.scheme!r} is refused (use https:// or ssh://)"
        )
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise _refuse(where, location, "a file:// URL names an absolute path on this machine")
    elif not parts.hostname or any(
        _unsafe_text(piece) for piece in (parts.netloc, parts.hostname, parts.username or "")
    ):
        raise _refuse(where, location, "no host, or a host or user that looks like an option")
    else:
        try:
            parts.port  # noqa: B018 - raises for a port that is not a number
        except ValueError as exc:
            raise _refuse(where, location, "the port is not a number") from exc
    rev = rev.lower()
    if len(rev) != 40 or not set(rev) <= _SHA:
        raise InputError(
            f"{where}: git source {location!r} is not pinned to a full commit sha; re-lock"
        )
    if subdirectory is not None:
        relative = PurePosixPath(subdirectory)
        if relative.is_absolute() or ".." in relative.parts or _unsafe_text(subdirectory):
            raise _refuse(
                where, location, f"subdirectory {subdirectory!r} must stay inside the repository"
            )
        subdirectory = relative.as_posix()
    if ref is not None and _unsafe_text(ref):
        raise _refuse(where, location, f"ref {ref!r} looks like an option")
    clean = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return GitSource(url=clean, rev=rev, subdirectory=subdirectory or None, ref=ref)


def check_git_policy(source: GitSource, package: str, where: str, policy: FilePolicy) -> str | None:
    """Apply the URL policy of files to a git source; a note when an opt-in let it through.

    Raises for http:// to another host without ``--allow-insecure-http`` and for
    file:// (and bare paths) without ``--allow-file-urls``.
    """
    parts = urlsplit(source.url)
    if parts.scheme in ("https", "ssh"):
        return None
    if parts.scheme == "http":
        if parts.hostname in ("127.0.0.1", "localhost", "::1"):
            return None
        if policy.allow_insecure_http:
            return f"{package}: git {source.url} (plain http, allowed by --allow-insecure-http)"
        raise InputError(
            f"{where}: git source {source.url} is plain http://; use https:// "
            "and re-lock, or pass --allow-insecure-http (the commit and NAR hash are checked)"
        )
    if policy.allow_file_urls:
        return (
            f"{package}: git {source.url} "
            "(a repository of this machine, allowed by --allow-file-urls)"
        )
    raise InputError(
        f"{where}: git source {source.url} is a repository of this machine, which "
        "other machines cannot fetch; push it to a server, or pass --allow-file-urls"
    )


def git_environment(url: str) -> dict[str, str]:
    """The caller's environment with git limited to the one protocol ``url`` names.

    ``GIT_ALLOW_PROTOCOL`` overrides every ``protocol.*.allow`` setting: remote
    helpers such as ``ext::`` (which runs a command) cannot run, not even from a
    submodule or a redirect, and git never asks for a password on a terminal.
    """
    env = dict(os.environ)
    scheme = urlsplit(url).scheme
    # Not a listed scheme: a protocol name that does not exist, so git allows none.
    env["GIT_ALLOW_PROTOCOL"] = scheme if scheme in GIT_SCHEMES else "p2n-refused"
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_PROTOCOL_FROM_USER"] = "0"
    return env


def _run_git(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    import subprocess

    fsread.opaque("ran git")
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )


def _git(args: list[str], cwd: Path, where: str, env: dict[str, str]) -> bytes:
    proc = _run_git(args, cwd, env)
    if proc.returncode != 0:
        reason = " ".join(proc.stderr.decode("utf-8", "replace").split())[:300]
        raise InputError(f"{where}: git {' '.join(args[:2])} failed: {reason}")
    return proc.stdout


def fetch_tree(source: GitSource, where: str, use: Callable[[Path], None]) -> str:
    """Fetch the commit, call ``use`` with a checkout of it, return its NAR hash (SRI)."""
    import tarfile  # only git sources need it; generate imports this module for every lock
    import tempfile

    with tempfile.TemporaryDirectory(prefix="p2n-git-") as directory:
        repo = Path(directory) / "repo"
        repo.mkdir()
        env = git_environment(source.url)
        _git(["init", "--quiet", "--bare", "--", str(repo)], repo, where, env)
        # "--" ends the options: a URL or rev can never be read as one (--upload-pack=…).
        fetched = _run_git(
            ["fetch", "--quiet", "--depth", "1", "--", source.url, source.rev], repo, env
        )
        if fetched.returncode != 0:  # servers that refuse a sha: fetch everything
            _git(
                ["fetch", "--quiet", "--", source.url, "+refs/*:refs/remotes/origin/*"],
                repo,
                where,
                env,
            )
        archive = Path(directory) / "tree.tar"
        archive.write_bytes(
            _git(["archive", "--format=tar", "--end-of-options", source.rev], repo, where, env)
        )
        checkout = Path(directory) / "tree"
        with tarfile.open(archive) as tar:
            tar.extractall(checkout, filter="tar")
            nar_hash = nar_hash_of_tar(tar)
        use(checkout)
        return nar_hash


# --- NAR (Nix ARchive) serialisation, enough for a source tree -----------------------


def _str(data: bytes) -> bytes:
    padding = (8 - len(data) % 8) % 8
    return len(data).to_bytes(8, "little") + data + b"\0" * padding


Tree = dict[str, "Tree"] | tuple[str, bytes, bool]
"""A directory (name -> entry) or a file/symlink ("regular"|"symlink", content, executable)."""


def _nar(entry: Tree) -> bytes:
    out = [_str(b"(")]
    if isinstance(entry, dict):
        out += [_str(b"type"), _str(b"directory")]
        for name in sorted(entry, key=lambda n: n.encode()):
            out += [_str(b"entry"), _str(b"("), _str(b"name"), _str(name.encode())]
            out += [_str(b"node"), _nar(entry[name]), _str(b")")]
    else:
        kind, content, executable = entry
        if kind == "symlink":
            out += [_str(b"type"), _str(b"symlink"), _str(b"target"), _str(content)]
        else:
            out += [_str(b"type"), _str(b"regular")]
            if executable:
                out += [_str(b"executable"), _str(b"")]
            out += [_str(b"contents"), _str(content)]
    out.append(_str(b")"))
    return b"".join(out)


def nar_hash_of_tar(tar: tarfile.TarFile) -> str:
    """SRI sha256 of the NAR of a tar's tree (as Nix computes for the unpacked tree)."""
    root: dict[str, Tree] = {}
    for member in tar.getmembers():
        parts = [p for p in member.name.split("/") if p not in ("", ".")]
        if not parts:
            continue
        node = root
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            assert isinstance(child, dict)
            node = child
        if member.isdir():
            node.setdefault(parts[-1], {})
        elif member.issym():
            node[parts[-1]] = ("symlink", member.linkname.encode(), False)
        elif member.isfile():
            extracted = tar.extractfile(member)
            assert extracted is not None
            node[parts[-1]] = ("regular", extracted.read(), bool(member.mode & 0o100))
    import base64
    import hashlib

    nar = _str(b"nix-archive-1") + _nar(root)
    return "sha256-" + base64.b64encode(hashlib.sha256(nar).digest()).decode()
