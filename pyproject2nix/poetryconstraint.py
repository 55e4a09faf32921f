"""Poetry's version-constraint syntax, translated into PEP 440 specifiers and PEP 508 markers.

Poetry writes constraints in its own dialect, both in pyproject.toml and in
poetry.lock (``^1.2``, ``~1.2``, ``1.2.*``, ``>=1,<2``, ``>=1 <2``,
``^2.7 || ^3.6``, a bare ``1.2.3`` meaning ``==1.2.3``). A constraint is a
union (``||``) of alternatives, each a PEP 440 :class:`SpecifierSet`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

_UNION = re.compile(r"\s*\|\|?\s*")
_PART = re.compile(r"(===|==|!=|~=|>=|<=|>|<|=|\^|~)?\s*([^\s,<>=!~^]+)")


class ConstraintError(ValueError):
    """A constraint string Poetry would not accept either."""


@dataclass(frozen=True)
class Constraint:
    """A Poetry constraint: satisfied when any alternative is."""

    alternatives: tuple[SpecifierSet, ...]

    @property
    def is_any(self) -> bool:
        """True for ``*`` (or an empty constraint)."""
        return any(not str(alternative) for alternative in self.alternatives)

    def allows(self, version: Version) -> bool:
        """Whether ``version`` satisfies the constraint (pre-releases included: the lock chose)."""
        return any(a.contains(version, prereleases=True) for a in self.alternatives)

    def as_specifier_set(self) -> SpecifierSet:
        """One SpecifierSet: exact for a single alternative, else the union's lower bound."""
        if len(self.alternatives) == 1:
            return self.alternatives[0]
        if self.is_any:
            return SpecifierSet()
        lowest: Version | None = None
        for alternative in self.alternatives:
            bounds = [
                Version(s.version)
                for s in alternative
                if s.operator in (">=", ">", "==", "~=") and "*" not in s.version
            ]
            if not bounds:
                return SpecifierSet()
            low = min(bounds)
            lowest = low if lowest is None or low < lowest else lowest
        return SpecifierSet(f">={lowest}")

    def as_python_marker(self) -> str:
        """The constraint as a PEP 508 marker on the interpreter ("" for ``*``).

        Like Poetry, ``python = "3.8"`` means any 3.8.x: an exact two-part
        version becomes a wildcard on ``python_full_version``.
        """
        if self.is_any:
            return ""
        alternatives = []
        for alternative in self.alternatives:
            ordered = sorted(alternative, key=lambda s: (s.operator[0] not in ">=~", str(s)))
            tests = [
                f'python_full_version {s.operator} "{_python_version(s.operator, s.version)}"'
                for s in ordered
            ]
            alternatives.append(" and ".join(tests))
        if len(alternatives) == 1:
            return alternatives[0]
        return " or ".join(f"({a})" for a in alternatives)


def _python_version(operator: str, version: str) -> str:
    if operator in ("==", "!=") and "*" not in version and version.count(".") < 2:
        return f"{version}.*"
    return version


def parse_constraint(text: str) -> Constraint:
    """Parse a Poetry constraint; raises :class:`ConstraintError` on nonsense."""
    alternatives = []
    for alternative in _UNION.split(text.strip()):
        specifiers: list[str] = []
        for part in alternative.split(","):
            specifiers.extend(_translate_part(part))
        try:
            alternatives.append(SpecifierSet(",".join(specifiers)))
        except InvalidSpecifier as exc:
            raise ConstraintError(f"invalid version constraint {text!r}") from exc
    return Constraint(tuple(alternatives))


def _translate_part(part: str) -> list[str]:
    """One comma-separated piece (which may still hold ``>=1 <2``) as PEP 440 specifiers."""
    part = part.strip()
    if part in ("", "*"):
        return []
    result = []
    position = 0
    while position < len(part):
        match = _PART.match(part, position)
        if match is None:
            raise ConstraintError(f"invalid version constraint {part!r}")
        operator, version = match.group(1) or "", match.group(2)
        result.extend(_translate(operator, version, part))
        position = match.end()
        while position < len(part) and part[position].isspace():
            position += 1
    return result


def _translate(operator: str, version: str, whole: str) -> list[str]:
    if version in ("*", "x", "X"):
        return []
    version = re.sub(r"\.[xX]$", ".*", version)
    if operator == "^":
        low = _version(version, whole)
        return [f">={low}", f"<{_caret_upper(low)}"]
    if operator == "~":
        low = _version(version, whole)
        return [f">={low}", f"<{_tilde_upper(low)}"]
    if operator in ("", "="):
        operator = "=="
    return [f"{operator}{version}"]


def _version(text: str, whole: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion as exc:
        raise ConstraintError(f"invalid version {text!r} in constraint {whole!r}") from exc


def _caret_upper(low: Version) -> str:
    """``^1.2.3`` < 2.0.0, ``^0.2.3`` < 0.3.0, ``^0.0.3`` < 0.0.4, ``^0`` < 1."""
    release = list(low.release)
    for index, number in enumerate(release):
        if number != 0 or index == len(release) - 1:
            upper = [*release[:index], number + 1]
            return ".".join(str(n) for n in upper)
    return "1"  # pragma: no cover - a release always has one component


def _tilde_upper(low: Version) -> str:
    """``~1.2.3`` < 1.3.0, ``~1.2`` < 1.3, ``~1`` < 2."""
    release = list(low.release)
    if len(release) == 1:
        return str(release[0] + 1)
    return f"{release[0]}.{release[1] + 1}"
