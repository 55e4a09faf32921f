"""Property tests aimed at values that reach subprocesses, paths and Nix text (issue 13).

The lock-shape fuzzers (test_fuzz_uvlock.py, test_fuzz_poetry_pylock.py) mangle
structure; these build values from the pieces attacks are made of (``-``
options, ``ext::`` helpers, ``..``, absolute paths, control characters, ``${``)
and check the invariants docs/threat-model.md promises. Deterministic (the
``p2n`` hypothesis profile in conftest.py: derandomized, no database) and
budgeted to a few seconds on 2 cores.
"""

from __future__ import annotations

import tempfile
import tomllib
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from pyproject2nix.buildlock import _s as toml_string
from pyproject2nix.errors import InputError, P2NError
from pyproject2nix.gitsource import (
    GIT_SCHEMES,
    GitSource,
    fetch_tree,
    git_environment,
    parse_git_location,
)
from pyproject2nix.nixexpr import comment, string
from pyproject2nix.overrides import _RESERVED_ENV, parse_overrides
from pyproject2nix.tomlfile import TomlTable

SHA = "0123456789abcdef0123456789abcdef01234567"

HOSTILE_PIECES = [
    "-",
    "--",
    "--upload-pack=touch${IFS}x",
    "-oProxyCommand=x",
    "ext::",
    "fd::",
    "ext::sh -c x",
    "git+",
    "git://",
    "file://",
    "ssh://",
    "https://",
    "http://",
    "ftp://",
    "/",
    "..",
    "../",
    ".",
    "@",
    ":",
    "::",
    "?",
    "#",
    "&",
    "=",
    "%2F",
    "%2e%2e",
    "%0a",
    "%00",
    " ",
    "\t",
    "\n",
    "\x00",
    "\x1b",
    "${x}",
    '"',
    "'",
    "\\",
    "host",
    "git@github.com",
    "git@-",
    ":-1",
    "example.org",
    "org/repo.git",
    "rev=",
    "branch=",
    "tag=",
    "subdirectory=",
    SHA,
]
hostile_text = st.lists(st.sampled_from(HOSTILE_PIECES), min_size=1, max_size=8).map("".join)


def _option_like(text: str) -> bool:
    return text.startswith("-") or any(c.isspace() or not c.isprintable() for c in text)


@settings(max_examples=600)
@given(st.one_of(hostile_text, st.text(max_size=40), hostile_text.map(lambda t: f"{t}#{SHA}")))
def test_a_parsed_git_source_holds_nothing_option_like(location: str) -> None:
    try:
        source = parse_git_location(location, "fuzzed/uv.lock: pkg")
    except InputError as exc:
        assert str(exc).startswith("fuzzed/uv.lock: pkg: ")
        assert "\n" not in str(exc)
        return
    parts = urlsplit(source.url)
    assert parts.scheme in GIT_SCHEMES
    assert not _option_like(source.url)
    assert not parts.netloc.startswith("-") and "::" not in source.url
    assert not (parts.hostname or "").startswith("-")
    assert not (parts.username or "").startswith("-")
    assert len(source.rev) == 40 and set(source.rev) <= set("0123456789abcdef")
    if source.subdirectory is not None:
        relative = PurePosixPath(source.subdirectory)
        assert not relative.is_absolute() and ".." not in relative.parts
        assert not _option_like(source.subdirectory)
    if source.ref is not None:
        assert not _option_like(source.ref)
    assert git_environment(source.url)["GIT_ALLOW_PROTOCOL"] == parts.scheme


# URLs that never touch the network: git treats them as options, helpers or local paths.
offline_urls = st.tuples(
    st.sampled_from(
        ["--upload-pack=touch {m};false", "ext::sh -c touch% {m}", "fd::0", "-o{m}", "{m}::x"]
    ),
    st.sampled_from(["", " ", ";", "#", "/repo", "$(touch {m})", "`touch {m}`"]),
).map("".join)


@settings(max_examples=25)
@given(offline_urls, st.sampled_from([SHA, "--output={m}", "-x", "HEAD"]))
def test_git_runs_no_command_whatever_the_source(url: str, rev: str) -> None:
    """Even a GitSource that skipped parsing cannot make git run a command or write a file."""
    with tempfile.TemporaryDirectory(prefix="p2n-fuzz-") as directory:
        _fetch_runs_nothing(Path(directory) / "pwned", url, rev)


def _fetch_runs_nothing(marker: Path, url: str, rev: str) -> None:
    source = GitSource(url.replace("{m}", str(marker)), rev.replace("{m}", str(marker)))
    with pytest.raises(P2NError):
        fetch_tree(source, "fuzzed/uv.lock: pkg", lambda _: None)
    assert not marker.exists()


@settings(max_examples=400)
@given(st.text())
def test_nix_strings_denote_exactly_their_value(value: str) -> None:
    """A rendered string is refused or parses back (Nix's rules) to the same value."""
    try:
        literal = string(value)
    except InputError:
        return
    assert literal[0] == literal[-1] == '"'
    body, decoded, index = literal[1:-1], [], 0
    while index < len(body):
        char = body[index]
        assert char != '"', "an unescaped quote ends the string"
        assert not (char == "$" and body[index + 1 : index + 2] == "{"), "interpolation"
        assert char in "\n\r\t" or char.isprintable() or ord(char) > 0x9F or char == " "
        if char == "\\":
            escaped = body[index + 1]
            decoded.append({"n": "\n", "r": "\r", "t": "\t"}.get(escaped, escaped))
            index += 2
        else:
            decoded.append(char)
            index += 1
    assert "".join(decoded) == value


@settings(max_examples=300)
@given(st.text())
def test_comment_text_stays_on_its_line(value: str) -> None:
    assert all(" " <= c <= "~" for c in comment(value))


@settings(max_examples=300)
@given(st.text())
def test_build_lock_strings_are_valid_toml(value: str) -> None:
    assert tomllib.loads(f"v = {toml_string(value)}")["v"] == value


@settings(max_examples=300)
@given(
    st.one_of(
        st.sampled_from(sorted(_RESERVED_ENV)),
        st.text(alphabet="_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
        st.sampled_from(["__noChroot", "outputHash", "buildPhase", "installPhase", "phases"]),
    )
)
def test_accepted_env_names_never_change_a_derivation(name: str) -> None:
    table = TomlTable(Path("p2n.toml"), "", {"packages": {"demo": {"env": {name: "1"}}}})
    try:
        env = parse_overrides(table, "p2n.toml").package(canonicalize_name("demo")).env
    except InputError:
        return
    assert env == ((name, "1"),)
    assert name not in _RESERVED_ENV
    assert not name.startswith(("__", "output")) and not name.endswith("Phase")


path_text = st.lists(
    st.sampled_from(["..", ".", "/", "a", "b.whl", "-x", "~", "%2e", "\\", "//", "dist"]),
    min_size=1,
    max_size=6,
).map("".join)


@settings(max_examples=200)
@given(st.one_of(path_text, path_text.map(quote)))
def test_git_subdirectories_and_patches_stay_inside(text: str) -> None:
    """Relative paths from a lock or [tool.p2n] never leave the tree they name."""
    try:
        source = parse_git_location(f"https://h/r?subdirectory={text}#{SHA}", "uv.lock")
    except InputError:
        pass
    else:
        if source.subdirectory is not None:
            joined = (Path("/tree") / source.subdirectory).resolve()
            assert joined == Path("/tree") or Path("/tree") in joined.parents
