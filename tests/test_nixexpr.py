"""Escaping strings for Nix: hostile values must round-trip through real Nix."""

from __future__ import annotations

import json
import subprocess

import pytest

from pyproject2nix.nixexpr import attr_name, render, string

HOSTILE = [
    "plain",
    "${builtins.abort \"pwned\"}",
    "''${x}",
    "$${x}",
    "a\\${b}",
    '"; builtins.abort "x"; "',
    "back\\slash\\",
    "new\nline\r\ttab",
    "dollar at end $",
    "$",
    "ünïcödé ✓ 日本",
    "https://example.org/a%2Bb/pkg-1.0+local-py3-none-any.whl?x=${y}",
]


def test_string_escapes_interpolation_and_quotes() -> None:
    assert string("${x}") == '"\\${x}"'
    assert string('a"b') == '"a\\"b"'
    assert string("a$b") == '"a$b"'
    assert string("x\ny") == '"x\\ny"'


def test_attr_names_are_quoted_when_needed() -> None:
    assert attr_name("rich") == "rich"
    assert attr_name("markdown-it-py") == "markdown-it-py"
    assert attr_name("x86_64-linux") == "x86_64-linux"
    assert attr_name("zope.interface") == '"zope.interface"'
    assert attr_name("in") == '"in"'
    assert attr_name("1abc") == '"1abc"'


def test_render_is_stable_and_nested() -> None:
    text = render({"b": [1, "x"], "a": {"c": True, "d": None}, "e": []})
    assert text == '{\n  b = [ 1 "x" ];\n  a = {\n    c = true;\n    d = null;\n  };\n  e = [ ];\n}'


@pytest.mark.nix
def test_hostile_strings_round_trip_through_nix() -> None:
    value = {name: name for name in HOSTILE}
    expression = render({"list": HOSTILE, "attrs": value})
    result = subprocess.run(
        ["nix", "eval", "--json", "--expr", expression],
        capture_output=True,
        text=True,
        check=True,
    )
    parsed = json.loads(result.stdout)
    assert parsed["list"] == HOSTILE
    assert parsed["attrs"] == value
