"""Property tests: any poetry.lock or pylock.toml — mangled, truncated — gives a model or our error.

Like ``test_fuzz_uvlock``: parse and select for every system either succeed or
raise :class:`P2NError` whose one-line message names the file.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyproject2nix.errors import P2NError
from pyproject2nix.model import Lock
from pyproject2nix.poetrylock import lock_from_poetry_toml, read_poetry_lock
from pyproject2nix.pylock import lock_from_pylock_toml, read_pylock
from pyproject2nix.select import Options, select
from pyproject2nix.targets import SYSTEMS, Target
from tests.helpers import POETRY_FIXTURES, PYLOCK_FIXTURES

POETRY = {
    name: POETRY_FIXTURES / name for name in ("lock-2.1-pep621", "lock-2.0-classic", "lock-1.1")
}
PYLOCK = {name: PYLOCK_FIXTURES / name / "pylock.toml" for name in ("hello", "forks")}
TEXTS = {
    **{f"poetry:{name}": (path / "poetry.lock").read_text() for name, path in POETRY.items()},
    **{f"pylock:{name}": path.read_text() for name, path in PYLOCK.items()},
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.text(max_size=12),
    st.sampled_from(
        ["sha256:", "md5:00", "^1.2 ||", "*", "python_version >= '3'", "'a' in extras", ""]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*prefix, index))
    return found


def _reader(which: str) -> tuple[Path, Callable[[Path, dict[str, Any]], Lock]]:
    kind, name = which.split(":")
    if kind == "poetry":
        fake = Path(f"fuzzed/{name}/poetry.lock")
        pyproject = POETRY[name] / "pyproject.toml"
        return fake, lambda path, data: lock_from_poetry_toml(path, data, pyproject)
    fake = Path(f"fuzzed/{name}/pylock.toml")
    return fake, lambda path, data: lock_from_pylock_toml(path, data, name)


def _select_everywhere(lock: Lock) -> None:
    for system in SYSTEMS.values():
        select(lock, Target(system, (3, 12)), Options(all_extras=True))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.sampled_from(sorted(TEXTS)),
    choice=st.randoms(use_true_random=False),
    replacement=values,
    delete=st.booleans(),
)
def test_mangled_values_give_a_model_or_our_error(
    which: str, choice: Any, replacement: Any, delete: bool
) -> None:
    data = copy.deepcopy(tomllib.loads(TEXTS[which]))
    path = choice.choice(_paths(data))
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    fake, read = _reader(which)
    try:
        _select_everywhere(read(fake, data))
    except P2NError as error:
        message = str(error)
        assert str(fake) in message, message
        assert "\n" not in message, message


@settings(max_examples=100, deadline=None)
@given(which=st.sampled_from(sorted(TEXTS)), fraction=st.floats(0, 1))
def test_truncated_files_give_a_model_or_our_error(
    tmp_path_factory: Any, which: str, fraction: float
) -> None:
    kind, name = which.split(":")
    directory = tmp_path_factory.mktemp("fuzzed")
    text = TEXTS[which][: int(len(TEXTS[which]) * fraction)]
    try:
        if kind == "poetry":
            path = directory / "poetry.lock"
            path.write_text(text)
            lock = read_poetry_lock(path, POETRY[name] / "pyproject.toml")
        else:
            path = directory / "pylock.toml"
            path.write_text(text)
            lock = read_pylock(path, name)
        _select_everywhere(lock)
    except P2NError as error:
        assert str(directory) in str(error) and "\n" not in str(error), str(error)
