"""The ``p2n generate`` settings that shape the output, recorded for ``p2n check``.

One frozen dataclass, serialised one way: :meth:`Settings.to_json` writes the
``# p2n-settings:`` line of ``p2n/lock.nix`` and :meth:`Settings.from_json`
reads it back, both driven by the fields themselves, so nothing has to mirror
anything. Only what changes the generated files is here; how p2n runs
(offline, cache directory, progress) is not a setting.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # selection (packaging's markers and tags) is imported only to select
    from .select import FilePolicy, Options

SETTINGS_MARK = "# p2n-settings: "

_ALWAYS = {"always": True}
"""Field metadata: recorded even at its default (the record of every older p2n has it)."""


@dataclass(frozen=True)
class Settings:
    """What the user chose with flags; canonical and machine-independent once recorded.

    Field names are the JSON keys. Collections are tuples, recorded sorted;
    fields without ``always`` metadata are recorded only when not the default.
    """

    python: str | None = field(default=None, metadata=_ALWAYS)
    systems: tuple[str, ...] = field(default=(), metadata=_ALWAYS)
    """Nix systems asked for, each strictly; (): every system the lock can serve."""
    extras: tuple[str, ...] = field(default=(), metadata=_ALWAYS)
    all_extras: bool = field(default=False, metadata=_ALWAYS)
    groups: tuple[str, ...] = field(default=(), metadata=_ALWAYS)
    no_default_groups: bool = field(default=False, metadata=_ALWAYS)
    without_groups: tuple[str, ...] = ()
    only_groups: tuple[str, ...] | None = None
    """``--only``; None: not given (an empty tuple is never recorded by the CLI)."""
    prefer_sdist: tuple[str, ...] = field(default=(), metadata=_ALWAYS)
    prefer_wheel: tuple[str, ...] = field(default=(), metadata=_ALWAYS)
    lock_file: str | None = None
    """``--lock``: the lock's file name (it is always beside pyproject.toml)."""
    trust_index_hashes: bool = False
    """Take sha256 hashes the lock lacks from the package index (and say so)."""
    allow_insecure_http: bool = False
    allow_file_urls: bool = False
    root: str | None = None
    """``--root``, relative to the project directory, POSIX separators."""

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, tuple):  # canonical: the same choice compares equal
                object.__setattr__(self, spec.name, tuple(sorted(set(value))))

    @property
    def options(self) -> Options:
        """What selection installs besides the project's own dependencies."""
        from .select import Options

        return Options(
            extras=frozenset(self.extras),
            all_extras=self.all_extras,
            groups=frozenset(self.groups),
            no_default_groups=self.no_default_groups,
            without_groups=frozenset(self.without_groups),
            only_groups=frozenset(self.only_groups) if self.only_groups is not None else None,
            prefer_sdist=frozenset(self.prefer_sdist),
            prefer_wheel=frozenset(self.prefer_wheel),
        )

    @property
    def policy(self) -> FilePolicy:
        """The opt-ins for http:// and file:// URLs."""
        from .select import FilePolicy

        return FilePolicy(
            allow_insecure_http=self.allow_insecure_http, allow_file_urls=self.allow_file_urls
        )

    def root_dir(self, project_dir: Path) -> Path | None:
        """``--root`` as a directory (None: see :mod:`sourceroot`)."""
        return project_dir / self.root if self.root is not None else None

    def to_json(self) -> str:
        """The record: one line of JSON, sorted keys."""
        record: dict[str, Any] = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value == spec.default and not spec.metadata.get("always"):
                continue
            record[spec.name] = list(value) if isinstance(value, tuple) else value
        import json  # only to record: the generate cache compares settings without it

        return json.dumps(record, sort_keys=True)

    def header_line(self) -> str:
        """The ``# p2n-settings:`` line of ``p2n/lock.nix``."""
        return SETTINGS_MARK + self.to_json() + "\n"

    @classmethod
    def from_json(cls, text: str) -> Settings:
        """The settings :meth:`to_json` recorded; unknown keys are ignored.

        Raises ValueError for text that is not such a record (the caller names the file).
        """
        import json

        record = json.loads(text)
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        values: dict[str, Any] = {}
        for spec in fields(cls):
            if spec.name in record:
                values[spec.name] = _decode(spec.name, str(spec.type), record[spec.name])
        return cls(**values)


def _decode(name: str, annotation: str, value: object) -> object:
    """A recorded value, checked against its field's annotation."""
    if value is None and annotation.endswith("| None"):
        return None
    if annotation == "bool" and isinstance(value, bool):
        return value
    if annotation.startswith("str") and isinstance(value, str):
        return value
    if (
        annotation.startswith("tuple[str, ...]")
        and isinstance(value, list)
        and all(isinstance(item, str) for item in value)
    ):
        return tuple(value)
    raise ValueError(f"{name}: {value!r} is not a {annotation}")


def relative_root(root: Path, project_dir: Path) -> str:
    """``--root`` as recorded: relative, so the setting is the same on every machine."""
    relative = os.path.relpath(root.resolve(), project_dir.resolve())
    return PurePosixPath(Path(relative)).as_posix()
