"""The one module that runs Nix.

Every Nix invocation of p2n goes through :func:`run_nix`, so the settings p2n
needs (flakes enabled) are added in one place and errors look the same
everywhere. Works with Nix 2.8 (Debian) and current Nix: no
``--print-out-paths`` (2.8 lacks it), outputs are read from ``--json``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import NixError

# Appended to the caller's NIX_CONFIG: later lines win, so a user's own
# experimental-features setting is extended rather than replaced.
P2N_NIX_CONFIG = "extra-experimental-features = nix-command flakes"


@dataclass(frozen=True)
class NixResult:
    """What a finished Nix command printed and how it exited."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def nix_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment for Nix: the caller's, flakes enabled, plus ``extra``."""
    env = dict(os.environ)
    config = env.get("NIX_CONFIG", "")
    env["NIX_CONFIG"] = f"{config}\n{P2N_NIX_CONFIG}\n" if config else f"{P2N_NIX_CONFIG}\n"
    if extra:
        env.update(extra)
    return env


def nix_binary(name: str = "nix") -> str:
    """Absolute path of a Nix program, or an error that says how to install it."""
    path = shutil.which(name)
    if path is None:
        raise NixError(
            f"'{name}' not found on PATH; install Nix (Debian: apt-get install nix-bin) "
            "or see https://nixos.org/download"
        )
    return path


def run_nix(
    args: Sequence[str],
    *,
    program: str = "nix",
    check: bool = True,
    capture_stderr: bool = True,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> NixResult:
    """Run a Nix program and return its output.

    ``check`` raises :class:`NixError` with Nix's last error lines on a
    non-zero exit; callers that treat failure as a verdict pass ``check=False``.
    With ``capture_stderr=False`` Nix's progress goes straight to the terminal.
    """
    argv = [nix_binary(program), *args]
    proc = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if capture_stderr else None,
        text=True,
        env=nix_environment(env),
        cwd=cwd,
        check=False,
    )
    result = NixResult(tuple(argv), proc.returncode, proc.stdout, proc.stderr or "")
    if check and proc.returncode != 0:
        command = " ".join(argv[:3])
        raise NixError(f"{command} … failed (exit {proc.returncode}): {last_error(result)}")
    return result


def last_error(result: NixResult) -> str:
    """The most telling line of a failed Nix run's stderr, for one-line messages."""
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error")]
    if errors:
        return errors[-1]
    return lines[-1] if lines else "no output"


def build_outputs(
    installables: Sequence[str],
    *,
    store: str | None = None,
    extra_args: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """``nix build --json --no-link`` and return its parsed JSON (one entry per derivation)."""
    args = ["build", "--json", "--no-link", *installables, *extra_args]
    if store:
        args += ["--store", store]
    result = run_nix(args)
    parsed: list[dict[str, Any]] = json.loads(result.stdout or "[]")
    return parsed
