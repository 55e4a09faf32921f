"""The one module that runs Nix.

Every Nix invocation of p2n goes through :func:`run_nix`, so the settings p2n
needs (flakes enabled) are added in one place and errors look the same
everywhere. Positional arguments (installables, store paths) follow ``--``,
so none can be read as an option. Works with Nix 2.8 (Debian) and current Nix: no
``--print-out-paths`` (2.8 lacks it), outputs are read from ``--json``.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
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
    args = ["build", "--json", "--no-link", *extra_args]
    if store:
        args += ["--store", store]
    result = run_nix([*args, "--", *installables])
    parsed: list[dict[str, Any]] = json.loads(result.stdout or "[]")
    return parsed


# --- Functions for ``p2n verify``: evaluate once, copy, realise in chosen stores. ---
#
# They take an explicit ``store`` (a Nix store URL such as ``local?root=/tmp/x``
# or ``ssh-ng://host``; ``None`` is the user's default store) and never read
# the flake again: the verifier works on store derivations, so every store sees
# exactly the same build instructions.


def run_nix_streaming(
    args: Sequence[str],
    *,
    program: str = "nix",
    env: Mapping[str, str] | None = None,
    on_stderr_line: Callable[[str], None] | None = None,
    wrapper: Sequence[str] = (),
) -> NixResult:
    """Run a Nix program, handing each stderr line to ``on_stderr_line`` as it arrives.

    For long builds, so progress can be shown while the whole log is still
    collected for the result. Never raises on a non-zero exit: builds that
    fail are verdicts the caller reads from the result. ``wrapper`` is an
    argv prefix (e.g. ``taskset --cpu-list 0``) whose effect builders inherit.
    """
    argv = [*wrapper, nix_binary(program), *args]
    stdout_chunks: list[str] = []
    stderr_lines: list[str] = []
    with subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        env=nix_environment(env),
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        stdout = proc.stdout
        # stdout is drained in a thread so a chatty stdout cannot block stderr.
        reader = threading.Thread(target=lambda: stdout_chunks.append(stdout.read()))
        reader.start()
        for line in proc.stderr:
            stderr_lines.append(line)
            if on_stderr_line is not None:
                on_stderr_line(line.rstrip("\n"))
        reader.join()
        returncode = proc.wait()
    return NixResult(tuple(argv), returncode, "".join(stdout_chunks), "".join(stderr_lines))


@functools.cache
def nix_version() -> tuple[int, ...]:
    """The installed Nix version as numbers, e.g. ``(2, 8, 0)``, to pick between CLI variants."""
    result = run_nix(["--version"])
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", result.stdout)
    if match is None:
        raise NixError(f"cannot read the Nix version from {result.stdout.strip()!r}")
    return tuple(int(part) for part in match.groups(default="0"))


def _store_args(store: str | None) -> list[str]:
    return ["--store", store] if store else []


def store_derivation(installable: str, *, extra_args: Sequence[str] = ()) -> str:
    """Evaluate ``installable``; return its store derivation (written to the default store)."""
    result = run_nix(["path-info", "--derivation", "--json", *extra_args, "--", installable])
    parsed: Any = json.loads(result.stdout or "[]")
    # Nix < 2.19 prints a list of {"path": …}; later versions an object keyed by path.
    paths = [entry["path"] for entry in parsed] if isinstance(parsed, list) else list(parsed)
    drv_paths = [path for path in paths if path.endswith(".drv")]
    if len(drv_paths) != 1:
        raise NixError(f"{installable} does not evaluate to exactly one derivation (got {paths})")
    return str(drv_paths[0])


def show_derivations(*drv_paths: str, recursive: bool = True) -> dict[str, Any]:
    """The JSON form of store derivations and, with ``recursive``, of their build closures.

    Nix 2.8 calls it ``nix show-derivation``; Nix >= 2.15 ``nix derivation show``.
    The result is returned as Nix prints it: callers normalise the format.
    One Nix process for any number of derivations.
    """
    command = ["derivation", "show"] if nix_version() >= (2, 15) else ["show-derivation"]
    args = [*command, *(["--recursive"] if recursive else []), "--", *drv_paths]
    parsed: Any = json.loads(run_nix(args).stdout or "{}")
    if not isinstance(parsed, dict):
        raise NixError(f"unexpected output of nix {' '.join(command)}: {type(parsed).__name__}")
    return parsed


def copy_paths(
    paths: Sequence[str],
    *,
    to_store: str,
    from_store: str | None = None,
    derivation: bool = False,
) -> None:
    """``nix copy`` store paths (with their closures) between stores.

    Signatures are not checked: the paths come from the user's own store or
    were just built by p2n, and locally built paths carry none.
    ``derivation`` copies the .drv files themselves rather than their outputs.
    """
    if not paths:
        return
    args = ["copy", "--no-check-sigs", "--to", to_store]
    if from_store:
        args += ["--from", from_store]
    if derivation:
        args.append("--derivation")
    run_nix([*args, "--", *paths])


def realise(
    drv_paths: Sequence[str],
    *,
    store: str | None,
    settings: Mapping[str, str] | None = None,
    check: bool = False,
    keep_failed: bool = False,
    env: Mapping[str, str] | None = None,
    on_stderr_line: Callable[[str], None] | None = None,
    wrapper: Sequence[str] = (),
) -> NixResult:
    """``nix-store --realise --keep-going`` derivations in ``store`` with extra Nix settings.

    ``nix-store`` rather than ``nix build``: a bare .drv path means "build it"
    in every Nix version. ``check`` rebuilds already valid outputs and compares
    them (``--check``). Never raises on a failed build: the caller inspects
    which outputs became valid.
    """
    args = [*_store_args(store), "--realise", "--keep-going", "--no-gc-warning"]
    if check:
        args.append("--check")
    if keep_failed:
        args.append("--keep-failed")
    for name, value in sorted((settings or {}).items()):
        args += ["--option", name, value]
    return run_nix_streaming(
        [*args, "--", *drv_paths],
        program="nix-store",
        env=env,
        on_stderr_line=on_stderr_line,
        wrapper=wrapper,
    )


def path_infos(paths: Sequence[str], *, store: str | None) -> dict[str, dict[str, Any] | None]:
    """``nix path-info --json`` for each path: its info, or ``None`` when not valid in ``store``."""
    if not paths:
        return {}
    result = run_nix(["path-info", "--json", *_store_args(store), "--", *paths], check=False)
    if not result.stdout.strip():
        raise NixError(f"nix path-info failed in store {store or 'default'}: {last_error(result)}")
    parsed: Any = json.loads(result.stdout)
    infos: dict[str, dict[str, Any] | None] = dict.fromkeys(paths)
    # Nix < 2.19: a list with "valid": false entries; later: an object, null when invalid.
    entries = (
        parsed
        if isinstance(parsed, list)
        else [
            {"path": path, **info} if info is not None else {"path": path, "valid": False}
            for path, info in parsed.items()
        ]
    )
    for entry in entries:
        if entry.get("valid", True) is not False:
            infos[entry["path"]] = entry
    return infos


def dump_path_into(path: str, *, store: str | None, destination: str) -> None:
    """Unpack a store path of any store into a plain directory.

    ``nix store dump-path | nix-store --restore``: reads outputs of stores
    that are not on this machine's disk (``ssh-ng://…``).
    """
    dump_argv = [nix_binary(), "store", "dump-path", *_store_args(store), "--", path]
    restore_argv = [nix_binary("nix-store"), "--restore", "--", destination]
    env = nix_environment()
    with subprocess.Popen(
        dump_argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    ) as dump:
        restore = subprocess.run(
            restore_argv, stdin=dump.stdout, capture_output=True, env=env, check=False
        )
        dump_stderr = dump.stderr.read() if dump.stderr else b""
        dump_code = dump.wait()
    if dump_code != 0 or restore.returncode != 0:
        message = (dump_stderr or restore.stderr).decode(errors="replace").strip().splitlines()
        raise NixError(f"cannot unpack {path} from {store or 'default store'}: {message[-1:]}")


def dump_path(path: str, *, store: str | None) -> bytes:
    """A store path serialised as a NAR (``nix store dump-path``), in memory."""
    argv = [nix_binary(), "store", "dump-path", *_store_args(store), path]
    done = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, env=nix_environment(), check=False
    )
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise NixError(f"cannot dump {path} from {store or 'default store'}: {message[-1:]}")
    return done.stdout


def add_to_store(path: str, *, store: str | None) -> str:
    """``nix-store --add`` a file or directory; return its store path."""
    args = [*_store_args(store), "--add", path]
    return run_nix(args, program="nix-store").stdout.strip()


def eval_json(expression: str, *, store: str | None, impure: bool = False) -> Any:
    """``nix eval --json --expr``; with ``store`` the derivations it names are written there."""
    args = ["eval", "--json", *_store_args(store), "--expr", expression]
    if impure:
        args.append("--impure")
    return json.loads(run_nix(args).stdout)


def build_log(drv_path: str, *, store: str | None) -> str:
    """The stored build log of a derivation (``nix log``), or "" when there is none."""
    result = run_nix(["log", *_store_args(store), "--", drv_path], check=False)
    return result.stdout if result.returncode == 0 else ""


def config_value(name: str) -> str | None:
    """A setting of the user's Nix configuration (e.g. ``sandbox``), None when unknown."""
    command = ["config", "show"] if nix_version() >= (2, 20) else ["show-config"]
    result = run_nix([*command, "--json"], check=False)
    try:
        entry = json.loads(result.stdout).get(name)
    except ValueError:
        return None
    value = entry.get("value") if isinstance(entry, dict) else None
    return None if value is None else str(value).lower()


def nar_hash(path: str) -> str:
    """The SRI NAR hash of any file tree (``nix hash path``), as ``path-info`` reports it."""
    return run_nix(["hash", "path", "--", path]).stdout.strip()
