"""Evaluate an installable once and list what the two stores must build.

The derivation JSON differs between Nix versions (2.8 ``show-derivation``,
>= 2.15 ``derivation show``, >= 2.18 ``inputDrvs`` values as objects, recent
versions store paths without the store directory); :func:`parse_derivations`
reads all of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import nixcli
from ..errors import InputError
from .model import Derivation, Plan

STORE_DIR = "/nix/store"


def make_plan(installable: str, *, nix_args: Sequence[str] = ()) -> Plan:
    """Evaluate ``installable`` (in the default store) and plan its verification."""
    top = nixcli.store_derivation(installable, extra_args=nix_args)
    derivations = parse_derivations(nixcli.show_derivations(top, recursive=True))
    if top not in derivations:
        raise InputError(f"{installable}: Nix did not describe its derivation {top}")
    return plan_from(installable, top, derivations)


def _store_path(path: str) -> str:
    return path if path.startswith("/") else f"{STORE_DIR}/{path}"


def _input_drv_paths(input_drvs: Mapping[str, Any]) -> tuple[str, ...]:
    # Values are ["out", …] (Nix < 2.18) or {"outputs": [...], "dynamicOutputs": {}}.
    return tuple(sorted(_store_path(path) for path in input_drvs))


def _name_of(drv_path: str, env: Mapping[str, Any]) -> str:
    name = env.get("name")
    if isinstance(name, str) and name:
        return name
    base = drv_path.rsplit("/", 1)[-1].removesuffix(".drv")
    return base.split("-", 1)[1] if "-" in base else base


def parse_derivations(shown: Mapping[str, Any]) -> dict[str, Derivation]:
    """Turn Nix's derivation JSON (any supported version) into :class:`Derivation` values."""
    derivations: dict[str, Derivation] = {}
    for raw_path, body in shown.items():
        drv_path = _store_path(raw_path)
        outputs: list[tuple[str, str]] = []
        fixed_output = False
        for output_name, output in sorted(body.get("outputs", {}).items()):
            path = output.get("path")
            if not path:
                raise InputError(
                    f"{drv_path}: output {output_name!r} has no fixed store path "
                    "(floating content-addressed derivations are not supported by p2n verify)"
                )
            outputs.append((output_name, _store_path(path)))
            # Only fixed-output derivations state their output's hash up front.
            fixed_output = fixed_output or bool(output.get("hash"))
        derivations[drv_path] = Derivation(
            drv_path=drv_path,
            name=_name_of(drv_path, body.get("env", {})),
            outputs=tuple(outputs),
            input_drvs=_input_drv_paths(body.get("inputDrvs", {})),
            fixed_output=fixed_output,
        )
    return derivations


def plan_from(installable: str, top: str, derivations: Mapping[str, Derivation]) -> Plan:
    """Select what the stores build: everything reachable from ``top`` without entering a fetch.

    A fixed-output derivation is copied into both stores already realised, so
    whatever only it needs (a fetcher's toolchain) is never built there.
    """
    built: set[str] = set()
    fixed: set[str] = set()
    stack = [top]
    while stack:
        current = stack.pop()
        if current in built or current in fixed:
            continue
        derivation = derivations.get(current)
        if derivation is None:
            raise InputError(f"{current} is an input of the closure but Nix did not describe it")
        if derivation.fixed_output:
            fixed.add(current)
            continue
        built.add(current)
        stack.extend(derivation.input_drvs)
    order = _dependencies_first(built, derivations)
    return Plan(
        installable=installable,
        top=top,
        derivations=dict(derivations),
        order=tuple(order),
        fixed_outputs=tuple(sorted(fixed, key=lambda path: (derivations[path].name, path))),
    )


def _dependencies_first(paths: set[str], derivations: Mapping[str, Derivation]) -> list[str]:
    """Topological order of ``paths``; among ready ones, by name then path (stable output)."""
    pending = {path: {d for d in derivations[path].input_drvs if d in paths} for path in paths}
    order: list[str] = []
    while pending:
        ready = sorted(
            (path for path, deps in pending.items() if not deps),
            key=lambda path: (derivations[path].name, path),
        )
        if not ready:  # a cycle cannot happen in a store; guard against bad input anyway
            raise InputError(f"dependency cycle among {sorted(pending)}")
        for path in ready:
            order.append(path)
            del pending[path]
        for deps in pending.values():
            deps.difference_update(ready)
    return order
