"""The environment variant of a derivation (data for Nix) and the NAR hash rewrite (no Nix)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from pyproject2nix.verify.envcheck import EXTRA_ENVIRONMENT, nar_hash, variant_spec

S = "/nix/store"
DEP_DRV = f"{S}/dddddddddddddddddddddddddddddddd-dep.drv"
DRV = f"{S}/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-pkg.drv"
SHOWN: dict[str, dict[str, Any]] = {
    DEP_DRV: {"outputs": {"out": {"path": f"{S}/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-dep"}}},
    DRV: {
        "outputs": {
            "out": {"path": f"{S}/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-pkg"},
            "dist": {"path": f"{S}/cccccccccccccccccccccccccccccccc-pkg-dist"},
        },
        "inputSrcs": [f"{S}/ffffffffffffffffffffffffffffffff-builder.sh"],
        "inputDrvs": {DEP_DRV: ["out"]},
        "system": "x86_64-linux",
        "builder": f"{S}/gggggggggggggggggggggggggggggggg-bash/bin/bash",
        "args": ["-e", f"{S}/ffffffffffffffffffffffffffffffff-builder.sh"],
        "env": {
            "name": "pkg",
            "system": "x86_64-linux",
            "builder": f"{S}/gggggggggggggggggggggggggggggggg-bash/bin/bash",
            "out": f"{S}/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-pkg",
            "dist": f"{S}/cccccccccccccccccccccccccccccccc-pkg-dist",
            "outputs": "dist out",
            "LANG": "en_US.UTF-8",  # the derivation's own: kept
            "src": f"{S}/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-dep",
        },
    },
}


def test_variant_keeps_the_derivation_and_adds_only_missing_variables() -> None:
    spec = variant_spec(DRV, SHOWN)
    assert spec is not None
    assert (spec["name"], spec["system"], spec["args"]) == (
        "pkg",
        "x86_64-linux",
        SHOWN[DRV]["args"],
    )
    assert spec["outputs"] == ["dist", "out"]
    env = spec["env"]
    # Output paths are Nix's to compute anew; the derivation's own LANG stays.
    assert not {"out", "dist", "outputs", "name", "system", "builder"} & set(env)
    assert env["LANG"] == "en_US.UTF-8"
    assert env["TZ"] == EXTRA_ENVIRONMENT["TZ"] and env["LC_ALL"] == "C.UTF-8"
    assert env["src"] == f"{S}/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-dep"
    assert spec["inputs"] == sorted(
        [
            f"{S}/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-dep",
            f"{S}/ffffffffffffffffffffffffffffffff-builder.sh",
        ]
    )


def test_structured_attrs_and_reference_checks_are_not_varied() -> None:
    for attribute in ("__json", "allowedReferences", "disallowedRequisites"):
        shown = {**SHOWN, DRV: {**SHOWN[DRV], "env": {**SHOWN[DRV]["env"], attribute: "x"}}}
        assert variant_spec(DRV, shown) is None


def test_nar_hash_is_nix_sri_form() -> None:
    digest = base64.b64encode(hashlib.sha256(b"nar").digest()).decode()
    assert nar_hash(b"nar") == "sha256-" + digest
