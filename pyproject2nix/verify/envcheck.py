"""The ``environment`` and ``umask`` perturbations: rebuild each derivation as a variant.

Nix hands a builder only the derivation's own variables (and a few of its
own), so ``TZ``, ``LANG``/``LC_ALL`` or any other variable can only reach it
through a changed derivation. p2n makes that variant — the same builder,
arguments and variables, plus those that the derivation does not set itself —
builds it in store A on A's own outputs of its inputs, and compares the
variant's output with A's after rewriting the variant's output hash back
(the way ``nix-store --check`` compares, and length-preserving: 32 characters
either way). Each derivation is checked on its own: a variant's difference is
its own by construction.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import nixcli
from ..errors import NixError
from .model import Derivation
from .nar import dump as nar_dump

# What run B's builders would see from a differently configured machine. The
# POSIX TZ string needs no zoneinfo files (there are none in the sandbox).
EXTRA_ENVIRONMENT = {
    "TZ": "NPT-5:45",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "P2N_VERIFY_SECOND_BUILD": "1",
}
UMASK = "077"
UMASK_WRAPPER = f'umask {UMASK} && exec "$0" "$@"'
# Attributes ``derivation`` reads as lists or that carry structured attrs: a
# variant made from the stored strings would not be the same build.
UNSUPPORTED_ATTRIBUTES = (
    "__json",
    "allowedReferences",
    "allowedRequisites",
    "disallowedReferences",
    "disallowedRequisites",
)

VARIANT_EXPRESSION = """
let
  specs = builtins.fromJSON (builtins.readFile SPEC);
  variant = spec:
    let
      # Every input (A's outputs, sources) as string context, so the variant depends on them.
      inputs = builtins.substring 0 0
        (builtins.concatStringsSep "" (map builtins.storePath spec.inputs));
      drv = derivation (spec.env // {
        inherit (spec) name system args outputs;
        builder = spec.builder + inputs;
      });
    in {
      drv = drv.drvPath;
      outputs = builtins.listToAttrs
        (map (o: { name = o; value = drv.${o}.outPath; }) spec.outputs);
    };
in map variant specs
"""


@dataclass(frozen=True)
class Variant:
    """One derivation's variant: its drv and its output paths, by output name."""

    original: Derivation
    drv_path: str
    outputs: dict[str, str]


def variant_spec(
    drv_path: str,
    shown: Mapping[str, Any],
    *,
    environment: bool = True,
    umask_shell: str | None = None,
) -> dict[str, Any] | None:
    """The variant of one derivation, as data for VARIANT_EXPRESSION (None: unsupported).

    ``environment`` adds EXTRA_ENVIRONMENT; ``umask_shell`` (a static shell's
    store path) runs the builder through it with umask UMASK first.
    """
    body = shown[drv_path]
    env: dict[str, str] = dict(body.get("env", {}))
    if any(name in env for name in UNSUPPORTED_ATTRIBUTES):
        return None
    outputs = sorted(body.get("outputs", {}))
    for name in (*outputs, "outputs", "name", "system", "builder"):
        env.pop(name, None)
    extra = {name: value for name, value in EXTRA_ENVIRONMENT.items() if name not in env}
    inputs = list(body.get("inputSrcs", []))
    for input_drv, names in body.get("inputDrvs", {}).items():
        input_outputs = shown[input_drv].get("outputs", {})
        inputs += [input_outputs[name]["path"] for name in names]
    builder, args = body["builder"], list(body.get("args", []))
    if umask_shell is not None:
        # $0 is the real builder: exec keeps argv as the derivation gives it.
        builder, args = umask_shell, ["-c", UMASK_WRAPPER, builder, *args]
        inputs.append(umask_shell)
    return {
        "name": body["env"].get("name", drv_path.rsplit("-", 1)[-1].removesuffix(".drv")),
        "system": body["system"],
        "builder": builder,
        "args": args,
        "outputs": outputs,
        "env": {**env, **(extra if environment else {})},
        "inputs": sorted(inputs),
    }


def make_variants(
    derivations: Sequence[Derivation],
    store: str | None,
    scratch: Path,
    *,
    environment: bool = True,
    umask_shell: Path | None = None,
) -> tuple[list[Variant], list[Derivation]]:
    """Write the variants into ``store`` (where A's outputs are); also return the unsupported."""
    if not derivations:
        return [], []
    # One Nix process for all: each variant needs its inputs' output paths too.
    shown: dict[str, Any] = nixcli.show_derivations(
        *[d.drv_path for d in derivations], recursive=True
    )
    shell = None
    if umask_shell is not None:
        shell = nixcli.add_to_store(str(umask_shell), store=store)
    supported: list[Derivation] = []
    unsupported: list[Derivation] = []
    specs = []
    for derivation in derivations:
        spec = variant_spec(derivation.drv_path, shown, environment=environment, umask_shell=shell)
        if spec is None:
            unsupported.append(derivation)
            continue
        supported.append(derivation)
        specs.append(spec)
    if not specs:
        return [], unsupported
    spec_file = scratch / "environment-variants.json"
    spec_file.write_text(json.dumps(specs))
    expression = VARIANT_EXPRESSION.replace("SPEC", json.dumps(str(spec_file)))
    made = nixcli.eval_json(expression, store=store, impure=True)
    if not isinstance(made, list) or len(made) != len(supported):
        raise NixError("making the environment variants returned unexpected data")
    variants = [
        Variant(derivation, str(entry["drv"]), {k: str(v) for k, v in entry["outputs"].items()})
        for derivation, entry in zip(supported, made, strict=True)
    ]
    return variants, unsupported


def hash_part(store_path: str) -> bytes:
    return store_path.rsplit("/", 1)[-1].split("-", 1)[0].encode()


def rewritten_nar(
    variant: Variant, output: str, store: str | None, on_disk: Path | None = None
) -> bytes:
    """The variant's output as a NAR, its own hash parts replaced by the original's.

    ``on_disk``: where the output's files are (a chroot store), read directly
    rather than through one ``nix store dump-path`` process per output.
    """
    if on_disk is not None and (on_disk.exists() or on_disk.is_symlink()):
        nar = nar_dump(on_disk)
    else:
        nar = nixcli.dump_path(variant.outputs[output], store=store)
    for name, original_path in variant.original.outputs:
        nar = nar.replace(hash_part(variant.outputs[name]), hash_part(original_path))
    return nar


def nar_hash(nar: bytes) -> str:
    """The SRI form Nix prints as narHash."""
    return "sha256-" + base64.b64encode(hashlib.sha256(nar).digest()).decode()


def restore(nar: bytes, destination: Path) -> Path:
    """Unpack a NAR into ``destination`` (which must not exist yet)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [nixcli.nix_binary("nix-store"), "--restore", str(destination)],
        input=nar,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise NixError(f"cannot unpack a NAR into {destination}: {done.stderr.decode()[-300:]}")
    return destination
