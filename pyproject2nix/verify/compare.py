"""Turn what each store holds into a verdict per derivation.

Pure logic: the Nix-facing parts (the rebuild check that tells own from
inherited nondeterminism, reading the differing files) come in as callables,
so this module is tested without Nix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .model import (
    Derivation,
    DerivationResult,
    Failure,
    FileDifference,
    Origin,
    OutputResult,
    Plan,
    Status,
)

LOG_TAIL_LINES = 20

PathInfos = Mapping[str, Mapping[str, Any] | None]


@dataclass(frozen=True)
class Explanation:
    """Which files of a differing derivation differ, and diffoscope's account of it."""

    files: tuple[FileDifference, ...] = ()
    truncated: int = 0
    diffoscope: str | None = None
    diffoscope_html: tuple[tuple[str, str], ...] = ()  # (output name, diffoscope's HTML page)


# Rebuild a derivation against the first store's inputs: True when it still
# differs (own nondeterminism), False when identical (inherited), None when unknown.
Recheck = Callable[[Derivation], bool | None]
Explain = Callable[[Derivation, tuple[OutputResult, ...]], Explanation]


def log_tail(log: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a build log, where the builder's error usually is."""
    kept = [line for line in log.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def find_failures(
    plan: Plan,
    infos: PathInfos,
    run: str,
    *,
    failed_fetches: set[str],
    log_for: Callable[[str], str],
) -> dict[str, Failure]:
    """Derivations without valid outputs in a run: their own build failed, or a dependency."""
    failed = set(failed_fetches)
    failures: dict[str, Failure] = {}
    for drv_path in plan.order:
        derivation = plan.derivations[drv_path]
        if all(infos.get(path) is not None for path in derivation.output_paths):
            continue
        failed.add(drv_path)
        dependencies = tuple(path for path in derivation.input_drvs if path in failed)
        if dependencies:
            failures[drv_path] = Failure(run, "dependency", dependencies)
        else:
            failures[drv_path] = Failure(run, "build", log_tail=log_tail(log_for(drv_path)))
    return failures


def output_results(
    derivation: Derivation, infos_a: PathInfos, infos_b: PathInfos
) -> tuple[OutputResult, ...]:
    """Each output's NAR hash in both stores (None where the output is not valid)."""

    def nar_hash(infos: PathInfos, path: str) -> str | None:
        info = infos.get(path)
        return None if info is None else str(info.get("narHash"))

    def nar_size(infos: PathInfos, path: str) -> int | None:
        info = infos.get(path)
        size = None if info is None else info.get("narSize")
        return size if isinstance(size, int) else None

    return tuple(
        OutputResult(
            name,
            path,
            nar_hash(infos_a, path),
            nar_hash(infos_b, path),
            nar_size(infos_a, path),
            nar_size(infos_b, path),
        )
        for name, path in derivation.outputs
    )


def fetch_failure_results(
    plan: Plan, failed_fetches: set[str], *, log_for: Callable[[str], str]
) -> list[DerivationResult]:
    """Fetches that failed in the default store: failed derivations of their own."""
    return [
        DerivationResult(
            plan.derivations[drv_path],
            Status.FAILED,
            tuple(
                OutputResult(name, path, None, None)
                for name, path in plan.derivations[drv_path].outputs
            ),
            failures=(Failure("fetch", "build", log_tail=log_tail(log_for(drv_path))),),
        )
        for drv_path in plan.fixed_outputs
        if drv_path in failed_fetches
    ]


def assemble(
    plan: Plan,
    infos_a: PathInfos,
    infos_b: PathInfos,
    failures: Mapping[str, tuple[Failure, ...]],
    *,
    recheck: Recheck,
    explain: Explain,
) -> list[DerivationResult]:
    """A verdict for every built derivation, dependencies first.

    A derivation that differs while nothing it depends on differs is "own".
    One whose inputs differ too is rebuilt against the first store's inputs
    (``recheck``): still different → "own", identical → "inherited".
    """
    results: dict[str, DerivationResult] = {}
    for drv_path in plan.order:
        derivation = plan.derivations[drv_path]
        outputs = output_results(derivation, infos_a, infos_b)
        if failures.get(drv_path):
            results[drv_path] = DerivationResult(
                derivation, Status.FAILED, outputs, failures=failures[drv_path]
            )
            continue
        if all(output.identical for output in outputs):
            results[drv_path] = DerivationResult(derivation, Status.REPRODUCIBLE, outputs)
            continue
        differing_inputs = tuple(
            path
            for path in plan.order
            if path in plan.input_closure(drv_path) and results[path].status is Status.DIFFERS
        )
        origin = Origin.OWN
        if differing_inputs:
            still_differs = recheck(derivation)
            origin = {True: Origin.OWN, False: Origin.INHERITED, None: Origin.UNKNOWN}[
                still_differs
            ]
        explanation = explain(derivation, outputs)
        results[drv_path] = DerivationResult(
            derivation,
            Status.DIFFERS,
            outputs,
            origin=origin,
            differing_inputs=differing_inputs,
            inherited_from=root_causes(differing_inputs, results),
            files=explanation.files,
            files_truncated=explanation.truncated,
            diffoscope=explanation.diffoscope,
            diffoscope_html=explanation.diffoscope_html,
        )
    return [results[path] for path in plan.order]


def root_causes(
    differing_inputs: tuple[str, ...], results: Mapping[str, DerivationResult]
) -> tuple[str, ...]:
    """Of the differing inputs, those that differ on their own (all of them if none is known to)."""
    own = tuple(path for path in differing_inputs if results[path].origin is Origin.OWN)
    return own or differing_inputs
