"""The verifier's data: what gets built (plan), how (perturbations), what came out (results).

Frozen dataclasses passed one way: plan → builds → comparison → report.
Nothing here runs Nix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# Run labels: "a" is the first (reference) build, "b" the second, perturbed one.
RUN_A = "a"
RUN_B = "b"


@dataclass(frozen=True)
class Derivation:
    """One store derivation of the build closure."""

    drv_path: str
    name: str
    outputs: tuple[tuple[str, str], ...]  # (output name, store path), sorted by name
    input_drvs: tuple[str, ...]  # drv paths, sorted
    fixed_output: bool

    @property
    def output_paths(self) -> tuple[str, ...]:
        return tuple(path for _, path in self.outputs)


@dataclass(frozen=True)
class Plan:
    """What verify builds: the top derivation and every derivation the stores must build.

    ``order`` lists the non-fixed-output derivations dependencies first (ties by
    name, then path), so reports read from root causes to the top.
    ``fixed_outputs`` are the fetches realised once and copied into both stores;
    derivations needed only to run a fetch are not built in the stores at all.
    """

    installable: str
    top: str
    derivations: dict[str, Derivation]
    order: tuple[str, ...]
    fixed_outputs: tuple[str, ...]

    def built(self) -> list[Derivation]:
        return [self.derivations[path] for path in self.order]

    def input_closure(self, drv_path: str) -> set[str]:
        """Every built (non-fixed-output) derivation ``drv_path`` depends on, transitively."""
        seen: set[str] = set()
        stack = list(self.derivations[drv_path].input_drvs)
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            derivation = self.derivations[current]
            if not derivation.fixed_output:
                stack.extend(derivation.input_drvs)
        return {path for path in seen if not self.derivations[path].fixed_output}


@dataclass(frozen=True)
class Perturbation:
    """One thing the second build varies, and what the builder sees of it."""

    name: str
    value_a: str
    value_b: str
    how: str


@dataclass(frozen=True)
class NotPerturbed:
    """A variation the second build does not apply, and why (missing tool, fixed by Nix…)."""

    name: str
    reason: str


class Status(StrEnum):
    """Verdict for one derivation."""

    REPRODUCIBLE = "reproducible"
    DIFFERS = "differs"
    FAILED = "failed"


class Origin(StrEnum):
    """Why a differing derivation differs."""

    OWN = "own"  # differs with identical inputs: fix this derivation
    INHERITED = "inherited"  # identical when rebuilt on the first store's inputs
    UNKNOWN = "unknown"  # inputs differ and the rebuild check could not decide


@dataclass(frozen=True)
class FileDifference:
    """One file (relative to the output root; "" is the output itself) that differs."""

    output: str
    path: str
    change: str  # "contents", "only-in-a", "only-in-b", "type", "mode", "symlink-target"
    kind: str  # "text", "binary", "pyc", "directory", "symlink", "file"
    detail: str  # why, in a few lines: diff excerpt, first differing bytes, pyc part

    @property
    def display_path(self) -> str:
        return self.path or "."


@dataclass(frozen=True)
class OutputResult:
    """One output path with its NAR hash in each store (None: not valid there)."""

    name: str
    path: str
    nar_hash_a: str | None
    nar_hash_b: str | None
    nar_size_a: int | None = None
    nar_size_b: int | None = None

    @property
    def identical(self) -> bool:
        return self.nar_hash_a is not None and self.nar_hash_a == self.nar_hash_b


@dataclass(frozen=True)
class Failure:
    """Why a derivation has no output in a run."""

    run: str  # RUN_A, RUN_B, or "check" (the rebuild in --same-store mode)
    reason: str  # "build" (its own builder failed) or "dependency"
    dependencies: tuple[str, ...] = ()  # failed dependencies' drv paths, for "dependency"
    log_tail: str = ""


@dataclass(frozen=True)
class DerivationResult:
    """The verdict for one derivation, with the evidence."""

    derivation: Derivation
    status: Status
    outputs: tuple[OutputResult, ...]
    origin: Origin | None = None
    differing_inputs: tuple[str, ...] = ()  # differing derivations it depends on (transitively)
    inherited_from: tuple[str, ...] = ()  # of those, the root causes (differ on their own)
    failures: tuple[Failure, ...] = ()
    files: tuple[FileDifference, ...] = ()
    files_truncated: int = 0  # differing files beyond those listed
    diffoscope: str | None = None
    diffoscope_html: tuple[tuple[str, str], ...] = ()  # (output, page) for --html
    build_seconds: tuple[tuple[str, float], ...] = ()  # (run, seconds) where measured
    found_by: str | None = None  # "environment", "umask" or both: identical in A and B, not so
    # in the variant derivation (see envcheck.py)

    @property
    def nar_size(self) -> int | None:
        """Bytes of its outputs (as NAR) in the first store that has them all."""
        for sizes in (
            [output.nar_size_a for output in self.outputs],
            [output.nar_size_b for output in self.outputs],
        ):
            if sizes and all(size is not None for size in sizes):
                return sum(size for size in sizes if size is not None)
        return None


@dataclass(frozen=True)
class VerifyReport:
    """Everything ``p2n verify`` found; rendered by report.py."""

    installable: str
    top: str
    mode: str  # "separate-stores" or "same-store"
    store_a: str
    store_b: str
    kept: str | None  # the work directory when --keep, else None
    perturbations: tuple[Perturbation, ...]
    results: tuple[DerivationResult, ...]
    fixed_outputs: tuple[Derivation, ...]
    timings: dict[str, float] = field(default_factory=dict)
    not_perturbed: tuple[NotPerturbed, ...] = ()

    def count(self, status: Status) -> int:
        return sum(1 for result in self.results if result.status is status)

    @property
    def reproducible(self) -> bool:
        return all(result.status is Status.REPRODUCIBLE for result in self.results)
