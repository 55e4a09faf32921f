"""Planning and judging a verification without Nix: derivation JSON in, verdicts out."""

from __future__ import annotations

from typing import Any

import pytest

from pyproject2nix.errors import InputError
from pyproject2nix.verify.compare import Explanation, assemble, find_failures, log_tail
from pyproject2nix.verify.model import Derivation, FileDifference, Origin, OutputResult, Status
from pyproject2nix.verify.plan import parse_derivations, plan_from

S = "/nix/store"


def _drv(name: str, inputs: list[str], *, fod: bool = False) -> dict[str, Any]:
    output: dict[str, str] = {"path": f"{S}/{name}-out-{name}"}
    if fod:
        output |= {"hashAlgo": "sha256", "hash": "ab" * 32}
    return {
        "outputs": {"out": output},
        "inputSrcs": [],
        "inputDrvs": {f"{S}/{i}.drv": ["out"] for i in inputs},
        "env": {"name": name},
    }


# Nix 2.8 `nix show-derivation -r` shape: a fetch with its own toolchain (curl),
# a compiler used by both the fetch and the build, a library and the top.
SHOWN_28 = {
    f"{S}/top.drv": _drv("top", ["lib", "cc", "src"]),
    f"{S}/lib.drv": _drv("lib", ["cc"]),
    f"{S}/cc.drv": _drv("cc", []),
    f"{S}/src.drv": _drv("src", ["curl", "cc"], fod=True),
    f"{S}/curl.drv": _drv("curl", []),
}


def test_parse_nix_2_8_show_derivation() -> None:
    derivations = parse_derivations(SHOWN_28)
    top = derivations[f"{S}/top.drv"]
    assert top.name == "top"
    assert top.outputs == (("out", f"{S}/top-out-top"),)
    assert top.input_drvs == (f"{S}/cc.drv", f"{S}/lib.drv", f"{S}/src.drv")
    assert derivations[f"{S}/src.drv"].fixed_output
    assert not top.fixed_output


def test_parse_newer_derivation_show_format() -> None:
    # Nix >= 2.18: inputDrvs values are objects; recent Nix drops the store directory.
    shown = {
        "aaa-top.drv": {
            "outputs": {"out": {"path": "bbb-top"}, "dev": {"path": "ccc-top-dev"}},
            "inputDrvs": {"ddd-dep.drv": {"outputs": ["out"], "dynamicOutputs": {}}},
            "env": {},
        },
        "ddd-dep.drv": {
            "outputs": {
                "out": {"path": "eee-dep", "method": "nar", "hashAlgo": "sha256", "hash": "f" * 64}
            },
            "inputDrvs": {},
            "env": {"name": "dep"},
        },
    }
    derivations = parse_derivations(shown)
    top = derivations[f"{S}/aaa-top.drv"]
    assert top.name == "top"  # from the path when env has no name
    assert top.outputs == (("dev", f"{S}/ccc-top-dev"), ("out", f"{S}/bbb-top"))
    assert top.input_drvs == (f"{S}/ddd-dep.drv",)
    assert derivations[f"{S}/ddd-dep.drv"].fixed_output


def test_floating_content_addressed_outputs_are_refused() -> None:
    shown = {f"{S}/x.drv": {"outputs": {"out": {"hashAlgo": "sha256"}}, "inputDrvs": {}, "env": {}}}
    with pytest.raises(InputError, match="content-addressed"):
        parse_derivations(shown)


def test_plan_stops_at_fetches_and_orders_dependencies_first() -> None:
    plan = plan_from(".#default", f"{S}/top.drv", parse_derivations(SHOWN_28))
    names = [plan.derivations[path].name for path in plan.order]
    assert names == ["cc", "lib", "top"]  # curl only serves the fetch: never built
    assert plan.fixed_outputs == (f"{S}/src.drv",)
    assert plan.input_closure(f"{S}/top.drv") == {f"{S}/cc.drv", f"{S}/lib.drv"}


def _infos(hashes: dict[str, str | None]) -> dict[str, dict[str, Any] | None]:
    return {
        f"{S}/{name}-out-{name}": None if value is None else {"narHash": value}
        for name, value in hashes.items()
    }


def _no_explain(derivation: Derivation, outputs: tuple[OutputResult, ...]) -> Explanation:
    return Explanation((FileDifference("out", "f", "contents", "text", "-a\n+b"),))


def test_own_and_inherited_differences() -> None:
    plan = plan_from(".#default", f"{S}/top.drv", parse_derivations(SHOWN_28))
    infos_a = _infos({"cc": "h1", "lib": "h2", "top": "h3"})
    infos_b = _infos({"cc": "h1", "lib": "X2", "top": "X3"})
    rechecked: list[str] = []

    def recheck(derivation: Derivation) -> bool | None:
        rechecked.append(derivation.name)
        return False  # identical on A's inputs: inherited

    results = assemble(plan, infos_a, infos_b, {}, recheck=recheck, explain=_no_explain)
    verdicts = {r.derivation.name: (r.status, r.origin) for r in results}
    assert verdicts == {
        "cc": (Status.REPRODUCIBLE, None),
        "lib": (Status.DIFFERS, Origin.OWN),
        "top": (Status.DIFFERS, Origin.INHERITED),
    }
    assert rechecked == ["top"]  # lib's inputs are identical: no rebuild needed
    top = results[-1]
    assert top.inherited_from == (f"{S}/lib.drv",)
    assert top.files[0].path == "f"


@pytest.mark.parametrize(("recheck_answer", "origin"), [(True, Origin.OWN), (None, Origin.UNKNOWN)])
def test_recheck_decides_when_inputs_differ(recheck_answer: bool | None, origin: Origin) -> None:
    plan = plan_from(".#default", f"{S}/top.drv", parse_derivations(SHOWN_28))
    results = assemble(
        plan,
        _infos({"cc": "h1", "lib": "h2", "top": "h3"}),
        _infos({"cc": "X1", "lib": "h2", "top": "X3"}),
        {},
        recheck=lambda derivation: recheck_answer,
        explain=_no_explain,
    )
    top = results[-1]
    assert (top.status, top.origin) == (Status.DIFFERS, origin)
    assert top.differing_inputs == (f"{S}/cc.drv",)


def test_failures_tell_own_build_from_dependency() -> None:
    plan = plan_from(".#default", f"{S}/top.drv", parse_derivations(SHOWN_28))
    infos_b = _infos({"cc": "h1", "lib": None, "top": None})
    failures = find_failures(
        plan, infos_b, "b", failed_fetches=set(), log_for=lambda drv: "a\n\nlast line\n"
    )
    lib, top = failures[f"{S}/lib.drv"], failures[f"{S}/top.drv"]
    assert (lib.run, lib.reason, lib.log_tail) == ("b", "build", "a\nlast line")
    assert (top.reason, top.dependencies) == ("dependency", (f"{S}/lib.drv",))
    results = assemble(
        plan,
        _infos({"cc": "h1", "lib": "h2", "top": "h3"}),
        infos_b,
        {path: (failure,) for path, failure in failures.items()},
        recheck=lambda derivation: None,
        explain=_no_explain,
    )
    assert [r.status for r in results] == [Status.REPRODUCIBLE, Status.FAILED, Status.FAILED]


def test_failed_fetch_fails_its_dependents() -> None:
    plan = plan_from(".#default", f"{S}/top.drv", parse_derivations(SHOWN_28))
    failures = find_failures(
        plan,
        _infos({"cc": "h1", "lib": "h2", "top": None}),
        "a",
        failed_fetches={f"{S}/src.drv"},
        log_for=lambda drv: "",
    )
    assert failures[f"{S}/top.drv"].dependencies == (f"{S}/src.drv",)


def test_log_tail_keeps_the_last_lines() -> None:
    assert log_tail("\n".join(str(i) for i in range(50)), lines=3) == "47\n48\n49"
