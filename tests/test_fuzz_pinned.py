"""Property tests: a mangled or truncated requirements.txt or Pipfile.lock: a model or our error.

Like ``test_fuzz_poetry_pylock``: reading, then selecting for every system,
either succeeds or raises :class:`P2NError` with a one-line message naming the file.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyproject2nix.errors import P2NError
from pyproject2nix.model import Lock
from pyproject2nix.pipfilelock import read_pipfile_lock
from pyproject2nix.requirements import read_requirements
from pyproject2nix.select import Options, select
from pyproject2nix.targets import SYSTEMS, Target
from tests.helpers import FIXTURES

PIPTOOLS = FIXTURES / "reqs" / "piptools"
PIPENV = FIXTURES / "reqs" / "pipenv"
REQUIREMENTS = {
    name: (PIPTOOLS / name).read_text()
    for name in ("requirements.txt", "requirements-uv.txt", "requirements-universal.txt")
}
PIPFILE_LOCK = json.loads((PIPENV / "Pipfile.lock").read_text())

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 7),
    st.text(max_size=12),
    st.sampled_from(["==1.0", ">=1", "sha256:", "md5:00", "python_version >= '3'", ".", ""]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
lines = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "-e .",
            "-e ../x",
            "-i http://example.com/simple",
            "--index-url=",
            "--extra-index-url https://x",
            "rich==1 --hash=sha256:" + "0" * 64,
            "rich @ https://example.com/rich-1-py3-none-any.whl --hash=sha256:" + "1" * 64,
            "rich @ git+https://example.com/r.git@" + "a" * 40,
            "rich @ file:///etc/passwd --hash=sha256:" + "2" * 64,
            "x==1 ; python_version >= '3' --hash=sha256:" + "3" * 64,
            "--hash=sha256:zz",
            "\\",
            "# comment",
        ]
    ),
)


def _select_everywhere(lock: Lock) -> None:
    for system in SYSTEMS.values():
        select(lock, Target(system, (3, 11)), Options(all_extras=True, groups=frozenset({"dev"})))


def _check(read: Any, path: Path) -> None:
    try:
        _select_everywhere(read(path, "tally"))
    except P2NError as error:
        message = str(error)
        assert str(path.parent) in message, message
        assert "\n" not in message, message


def _project(tmp_path_factory: Any) -> Path:
    directory: Path = tmp_path_factory.mktemp("fuzzed")
    (directory / "pyproject.toml").write_bytes((PIPTOOLS / "pyproject.toml").read_bytes())
    return directory


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.sampled_from(sorted(REQUIREMENTS)),
    choice=st.randoms(use_true_random=False),
    replacement=lines,
    mode=st.sampled_from(["replace", "insert", "delete"]),
)
def test_mangled_requirements_give_a_model_or_our_error(
    tmp_path_factory: Any, which: str, choice: Any, replacement: str, mode: str
) -> None:
    text = REQUIREMENTS[which].splitlines()
    at = choice.randrange(len(text))
    if mode == "replace":
        text[at] = replacement
    elif mode == "insert":
        text.insert(at, replacement)
    else:
        del text[at]
    path = _project(tmp_path_factory) / "requirements.txt"
    path.write_text("\n".join(text) + "\n")
    _check(read_requirements, path)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(choice=st.randoms(use_true_random=False), replacement=values, delete=st.booleans())
def test_mangled_pipfile_lock_gives_a_model_or_our_error(
    tmp_path_factory: Any, choice: Any, replacement: Any, delete: bool
) -> None:
    data = copy.deepcopy(PIPFILE_LOCK)
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, prefix: tuple[Any, ...]) -> None:
        if prefix:
            paths.append(prefix)
        if isinstance(node, dict):
            for key, child in node.items():
                walk(child, (*prefix, key))
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, (*prefix, index))

    walk(data, ())
    where = choice.choice(paths)
    parent = data
    for key in where[:-1]:
        parent = parent[key]
    if delete and isinstance(parent, dict):
        del parent[where[-1]]
    else:
        parent[where[-1]] = replacement
    path = _project(tmp_path_factory) / "Pipfile.lock"
    path.write_text(json.dumps(data))
    _check(read_pipfile_lock, path)


@settings(max_examples=60, deadline=None)
@given(which=st.sampled_from([*sorted(REQUIREMENTS), "Pipfile.lock"]), fraction=st.floats(0, 1))
def test_truncated_files_give_a_model_or_our_error(
    tmp_path_factory: Any, which: str, fraction: float
) -> None:
    if which == "Pipfile.lock":
        text, read = (PIPENV / which).read_text(), read_pipfile_lock
    else:
        text, read = REQUIREMENTS[which], read_requirements
    path = _project(tmp_path_factory) / which
    path.write_text(text[: int(len(text) * fraction)])
    _check(read, path)
