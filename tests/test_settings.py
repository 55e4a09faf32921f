"""The one ``Settings`` record: written and read back by the same dataclass."""

from __future__ import annotations

import pytest

from pyproject2nix.select import FilePolicy, Options
from pyproject2nix.settings import SETTINGS_MARK, Settings
from tests.helpers import EXAMPLE

EVERYTHING = Settings(
    python="3.12",
    systems=("x86_64-linux", "aarch64-darwin"),
    extras=("yaml", "fast"),
    all_extras=True,
    groups=("docs",),
    no_default_groups=True,
    without_groups=("lint",),
    only_groups=("main", "test"),
    prefer_sdist=(":all:",),
    prefer_wheel=("numpy",),
    lock_file="poetry.lock",
    trust_index_hashes=True,
    allow_insecure_http=True,
    allow_file_urls=True,
    root="..",
)


def test_default_record_is_what_every_generated_lock_holds() -> None:
    """Byte-identical to the record older p2n wrote (the committed example has it)."""
    line = next(
        line
        for line in (EXAMPLE / "p2n" / "lock.nix").read_text().splitlines()
        if line.startswith(SETTINGS_MARK)
    )
    assert Settings().header_line() == line + "\n"
    assert Settings.from_json(line.removeprefix(SETTINGS_MARK)) == Settings()


def test_every_field_round_trips() -> None:
    record = EVERYTHING.to_json()
    assert Settings.from_json(record) == EVERYTHING
    assert '"systems": ["aarch64-darwin", "x86_64-linux"]' in record  # sorted
    assert '"root": ".."' in record and '"lock_file": "poetry.lock"' in record


def test_defaults_of_optional_fields_are_not_recorded() -> None:
    record = Settings(python="3.11").to_json()
    for key in ("without_groups", "only_groups", "lock_file", "trust_index_hashes", "root"):
        assert key not in record
    assert Settings(only_groups=()).to_json() != record  # --only given, even if empty


def test_derived_options_and_policy() -> None:
    assert EVERYTHING.options == Options(
        extras=frozenset({"yaml", "fast"}),
        all_extras=True,
        groups=frozenset({"docs"}),
        no_default_groups=True,
        without_groups=frozenset({"lint"}),
        only_groups=frozenset({"main", "test"}),
        prefer_sdist=frozenset({":all:"}),
        prefer_wheel=frozenset({"numpy"}),
    )
    assert EVERYTHING.policy == FilePolicy(allow_insecure_http=True, allow_file_urls=True)
    assert Settings().options.only_groups is None


def test_same_choice_compares_equal_whatever_the_order() -> None:
    assert Settings(extras=("b", "a", "a")) == Settings(extras=("a", "b"))


def test_unknown_keys_are_ignored() -> None:
    assert Settings.from_json('{"python": "3.13", "future_setting": 1}') == Settings(
        python="3.13"
    )


@pytest.mark.parametrize(
    "record",
    ["[]", '{"systems": "x86_64-linux"}', '{"all_extras": "yes"}', '{"python": 3}', "{"],
)
def test_damaged_records_are_refused(record: str) -> None:
    with pytest.raises(ValueError):
        Settings.from_json(record)
