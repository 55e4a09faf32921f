"""git sources: the lock's URL parsed, the pinned commit fetched, its NAR hash computed.

The generated Nix fetches git sources with ``builtins.fetchGit { url; rev;
narHash; allRefs = true; }``: pure (pinned by commit and content hash) on
Nix 2.8 and current Nix. p2n computes the NAR hash at generate time from
``git archive`` of the commit (what Nix's git fetcher exports: no ``.git``,
files' executable bits and symlinks kept, no submodules) and records it in
the build-system lock, so regenerating does not fetch again.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from .errors import InputError

_SHA = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class GitSource:
    """A git dependency as pinned by the lock."""

    url: str
    """What git and Nix fetch: https://, ssh://, file://, without query or fragment."""
    rev: str
    """The full commit sha."""
    subdirectory: str | None = None
    ref: str | None = None
    """The tag, branch or rev the lock names (informational)."""

    @property
    def key(self) -> str:
        """Identity in the build-system lock."""
        sub = f"#{self.subdirectory}" if self.subdirectory else ""
        return f"git {self.url}@{self.rev}{sub}"


def parse_git_location(location: str, where: str) -> GitSource:
    """uv's ``URL?rev=…&subdirectory=…#<sha>`` (also ``git+`` and scp-like URLs)."""
    text = location.removeprefix("git+")
    if "://" not in text and ":" in text.split("/", 1)[0]:
        # scp-like git@host:org/repo.git -> ssh://git@host/org/repo.git
        host, _, path = text.partition(":")
        text = f"ssh://{host}/{path}"
    parts = urlsplit(text)
    query = parse_qs(parts.query)
    rev = parts.fragment or (query.get("rev") or [""])[0]
    rev = rev.lower()
    if len(rev) != 40 or not set(rev) <= _SHA:
        raise InputError(
            f"{where}: git source {location!r} is not pinned to a full commit sha; re-lock"
        )
    subdirectory = query.get("subdirectory", [None])[0]
    ref = next((query[k][0] for k in ("tag", "branch", "rev") if k in query), None)
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return GitSource(
        url=url, rev=rev, subdirectory=unquote(subdirectory) if subdirectory else None, ref=ref
    )


def _git(args: list[str], cwd: Path, where: str) -> bytes:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    if proc.returncode != 0:
        reason = " ".join(proc.stderr.decode("utf-8", "replace").split())[:300]
        raise InputError(f"{where}: git {' '.join(args[:2])} failed: {reason}")
    return proc.stdout


def fetch_tree(source: GitSource, where: str, use: Callable[[Path], None]) -> str:
    """Fetch the commit, call ``use`` with a checkout of it, return its NAR hash (SRI)."""
    with tempfile.TemporaryDirectory(prefix="p2n-git-") as directory:
        repo = Path(directory) / "repo"
        repo.mkdir()
        _git(["init", "--quiet", "--bare"], repo, where)
        fetched = subprocess.run(
            ["git", "fetch", "--quiet", "--depth", "1", source.url, source.rev],
            cwd=repo,
            capture_output=True,
            check=False,
        )
        if fetched.returncode != 0:  # servers that refuse a sha: fetch everything
            _git(["fetch", "--quiet", source.url, "+refs/*:refs/remotes/origin/*"], repo, where)
        archive = Path(directory) / "tree.tar"
        archive.write_bytes(_git(["archive", "--format=tar", source.rev], repo, where))
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
    nar = _str(b"nix-archive-1") + _nar(root)
    return "sha256-" + base64.b64encode(hashlib.sha256(nar).digest()).decode()
