"""Property tests: any uv.lock — truncated, mangled, random — gives a model or our error.

Never a traceback: the whole pipeline (parse, select for every system, render)
either succeeds or raises :class:`P2NError` whose message names the file.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyproject2nix.errors import P2NError
from pyproject2nix.select import Options, select
from pyproject2nix.targets import SYSTEMS, Target
from pyproject2nix.uvlock import lock_from_toml, read_uv_lock
from tests.helpers import EXAMPLE, UV_FIXTURES

LOCK_TEXTS = {
    "example": (EXAMPLE / "uv.lock").read_text(),
    "conflicts": (UV_FIXTURES / "conflicts" / "uv.lock").read_text(),
    "workspace": (UV_FIXTURES / "workspace" / "uv.lock").read_text(),
}
ROOTS = {"example": "hello-p2n", "conflicts": "conflicts", "workspace": "ws-root"}
FAKE = Path("fuzzed/uv.lock")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["sha256:", "https://x/a-1-py3-none-any.whl", "python_version >= '3'", ""]),
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


def _pipeline(data: dict[str, Any], root: str | None) -> None:
    lock = lock_from_toml(FAKE, data, root)
    for system in SYSTEMS.values():
        select(lock, Target(system, (3, 12)), Options(all_extras=True))


def _assert_ours(error: P2NError) -> None:
    message = str(error)
    assert "fuzzed/uv.lock" in message, message
    assert "\n" not in message, message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.sampled_from(sorted(LOCK_TEXTS)),
    choice=st.randoms(use_true_random=False),
    replacement=values,
    delete=st.booleans(),
)
def test_mangled_values_give_a_model_or_our_error(
    which: str, choice: Any, replacement: Any, delete: bool
) -> None:
    data = copy.deepcopy(tomllib.loads(LOCK_TEXTS[which]))
    path = choice.choice(_paths(data))
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    try:
        _pipeline(data, ROOTS[which])
    except P2NError as error:
        _assert_ours(error)


@settings(max_examples=150, deadline=None)
@given(which=st.sampled_from(sorted(LOCK_TEXTS)), fraction=st.floats(0, 1))
def test_truncated_files_give_a_model_or_our_error(
    tmp_path_factory: Any, which: str, fraction: float
) -> None:
    text = LOCK_TEXTS[which]
    directory = tmp_path_factory.mktemp("fuzzed")
    path = directory / "uv.lock"
    path.write_text(text[: int(len(text) * fraction)])
    try:
        lock = read_uv_lock(path, None)
        for system in SYSTEMS.values():
            select(lock, Target(system, (3, 12)), Options())
    except P2NError as error:
        assert str(path) in str(error)
        assert "\n" not in str(error)


@settings(max_examples=100, deadline=None)
@given(blob=st.binary(max_size=200))
def test_random_bytes_are_refused_cleanly(tmp_path_factory: Any, blob: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzzed") / "uv.lock"
    path.write_bytes(blob)
    try:
        read_uv_lock(path, None)
    except P2NError as error:
        assert str(path) in str(error)


def test_type_error_names_the_key_path() -> None:
    data = tomllib.loads(LOCK_TEXTS["example"])
    data["package"][3]["wheels"][0]["hash"] = 12
    try:
        lock_from_toml(FAKE, data, "hello-p2n")
    except P2NError as error:
        assert "fuzzed/uv.lock: package[3].wheels[0].hash: expected a string" in str(error)
    else:
        raise AssertionError("a mistyped hash must be refused")
