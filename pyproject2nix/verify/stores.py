"""Where the two builds happen and how the second one is perturbed.

A store is a Nix store URL; temporary ones are chroot stores
(``local?root=<dir>``) in a work directory whose files Nix makes read-only,
so removing them takes a chmod first. Fetches (fixed-output derivations) are
realised once in the default store and copied into both stores, so verify
downloads nothing twice.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .. import nixcli
from ..errors import InputError
from .model import RUN_A, RUN_B, Plan
from .perturb import MIN_CLOCK_GAP_SECONDS, PerturbationPlan

LineSink = Callable[[str], None]
REMOVAL_THREADS = 4


@dataclass(frozen=True)
class Store:
    """A Nix store URL and, when its files are on this machine's disk, their root."""

    url: str | None  # None: the user's default store
    root: Path | None = None

    def real_path(self, store_path: str) -> Path | None:
        """Where a store path's files are on disk, when readable directly."""
        if self.root is None:
            return None
        return self.root / store_path.lstrip("/")

    def __str__(self) -> str:
        return self.url or "default store"

    def copy_url(self) -> str:
        """The URL for ``nix copy --to`` (which needs one even for the default store)."""
        return self.url or "auto"


def chroot_store(root: Path) -> Store:
    """A fresh local store rooted at ``root`` (Nix creates it on first use)."""
    return Store(f"local?root={root}", root)


def parse_store(url: str) -> Store:
    """A user-given store URL; chroot stores (``/dir``, ``local?root=/dir``) get their root."""
    if not url.strip():
        raise InputError("empty store URL; give e.g. local?root=/tmp/sa or ssh-ng://host")
    if url.startswith("/"):
        return Store(url, Path(url))
    parts = urlsplit(url)
    if parts.scheme in ("", "local") and (parts.path in ("", "local") or parts.netloc == ""):
        roots = parse_qs(parts.query).get("root")
        if roots:
            return Store(url, Path(roots[0]))
    return Store(url)


@dataclass(frozen=True)
class RunSettings:
    """The Nix settings and process environment of one build run."""

    label: str
    nix_settings: dict[str, str]
    tmpdir: Path
    wrapper: tuple[str, ...] = ()  # argv prefix of nix-store (taskset, unshare)

    def env(self) -> dict[str, str]:
        # Nix makes its build directories under TMPDIR; unsandboxed builders see that path.
        return {"TMPDIR": str(self.tmpdir)}


@dataclass
class Workspace:
    """The work directory of one verify run: chroot stores, temp dirs, unpacked outputs."""

    root: Path
    keep: bool
    extra_paths: list[Path] = field(default_factory=list)  # e.g. .check copies in a user store
    mounts: list[Path] = field(default_factory=list)  # disorderfs mount points
    scratch_paths: list[Path] = field(default_factory=list)  # removed even with keep
    removals: list[threading.Thread] = field(default_factory=list)  # see remove_early

    @classmethod
    def create(cls, *, keep: bool) -> Workspace:
        root = Path(tempfile.mkdtemp(prefix="p2n-verify-"))
        # Without the sandbox (Debian's default sandbox = false), builds run as the nixbld
        # users in build directories under the run's TMPDIR, inside this 0700 directory:
        # let them traverse it (not list it), or every builder fails with EACCES.
        root.chmod(0o711)
        return cls(root, keep)

    def directory(self, *parts: str) -> Path:
        path = self.root.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def mount_disorderfs(self, mountpoint: Path) -> None:
        """Mount at ``mountpoint`` an empty directory whose every listing comes back reversed."""
        # --multi-user acts with each caller's uid, so the build users must reach the
        # backing directory: under a world-traversable temp dir, not a private one.
        parent = self.root.parent
        reachable = all(p.stat().st_mode & stat.S_IXOTH for p in (parent, *parent.parents))
        backing = Path(
            tempfile.mkdtemp(prefix="p2n-verify-order-", dir=parent if reachable else "/tmp")
        )
        backing.chmod(0o755)
        self.scratch_paths.append(backing)  # Nix's build dirs under it are gone after the build
        try:
            subprocess.run(
                [
                    "disorderfs",
                    "--quiet",
                    "--multi-user=yes",  # the build users read and write through it
                    "--reverse-dirents=yes",
                    "--shuffle-dirents=no",
                    "-o",
                    "allow_other",
                    str(backing),
                    str(mountpoint),
                ],
                check=True,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.CalledProcessError) as error:
            detail = getattr(error, "stderr", "") or str(error)
            raise InputError(
                f"file-order: cannot mount disorderfs on {mountpoint}: {detail.strip()}; "
                "drop file-order from --perturb"
            ) from error
        self.mounts.append(mountpoint)

    def unmount(self) -> None:
        """Unmount disorderfs (always, even with ``keep``: a mount outlives no run)."""
        while self.mounts:
            mountpoint = self.mounts.pop()
            for command in (["fusermount3", "-u", "-z"], ["umount", "-l"]):
                if shutil.which(command[0]) is None:
                    continue
                done = subprocess.run(
                    [*command, str(mountpoint)], capture_output=True, stdin=subprocess.DEVNULL
                )
                if done.returncode == 0:
                    break

    def remove_early(self, path: Path) -> None:
        """Start removing ``path`` (read no more) while the run goes on; cleanup waits for it.

        Deleting a store is mostly waiting on the disk (seconds for a few hundred MB),
        so it overlaps the builds still running. Nothing is removed with ``keep``.
        """
        if self.keep:
            return
        thread = threading.Thread(target=remove_tree, args=(path,), name="p2n-remove")
        thread.start()
        self.removals.append(thread)

    def cleanup(self) -> None:
        """Remove everything this run made, unless ``keep``."""
        self.unmount()
        for path in self.scratch_paths:
            remove_tree(path)
        for thread in self.removals:
            thread.join()
        if self.keep:
            return
        for path in self.extra_paths:
            remove_tree(path)
        with ThreadPoolExecutor(max_workers=REMOVAL_THREADS) as pool:
            # A chroot store's paths one by one, in parallel: each waits on the disk.
            list(pool.map(remove_tree, _store_entries(self.root)))
        remove_tree(self.root)


def _store_entries(root: Path) -> list[Path]:
    """The store paths of the chroot stores directly under ``root`` (made writable to delete)."""
    entries: list[Path] = []
    for store_dir in sorted(root.glob("*/nix/store")):
        if store_dir.is_symlink() or not store_dir.is_dir():
            continue
        _make_writable(store_dir)
        entries += sorted(store_dir.iterdir())
    return entries


def remove_tree(path: Path) -> None:
    """Delete a tree even when Nix made it read-only (store paths are 0555/0444)."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    # Only the tree itself is made writable, never its parent (e.g. /nix/store for .check copies).
    for directory, _subdirectories, _files in os.walk(path):
        _make_writable(Path(directory))
    shutil.rmtree(path)


def _make_writable(directory: Path) -> None:
    try:
        mode = directory.lstat().st_mode
        if not mode & stat.S_IWUSR or not mode & stat.S_IXUSR:
            directory.chmod(mode | stat.S_IWUSR | stat.S_IXUSR | stat.S_IRUSR)
    except OSError:
        pass  # not ours (e.g. the store directory itself): rmtree reports what matters


def make_runs(workspace: Workspace, plan: PerturbationPlan) -> tuple[RunSettings, RunSettings]:
    """Run A's and run B's settings; mounts disorderfs over B's temp dir when asked."""
    run_a = RunSettings(RUN_A, plan.settings_a, workspace.directory("tmp-a"))
    tmpdir_b = workspace.directory(plan.tmpdir_b_name)
    if plan.file_order:
        workspace.mount_disorderfs(tmpdir_b)
    return run_a, RunSettings(RUN_B, plan.settings_b, tmpdir_b, plan.wrapper_b)


def wait_for_clock_gap(finished_at: float) -> None:
    """Sleep until at least MIN_CLOCK_GAP_SECONDS passed since ``finished_at`` (monotonic)."""
    remaining = MIN_CLOCK_GAP_SECONDS - (time.monotonic() - finished_at)
    if remaining > 0:
        time.sleep(remaining)


def fetch_fixed_outputs(plan: Plan, *, on_line: LineSink | None) -> set[str]:
    """Realise the plan's fetches once, in the default store; return the drvs whose fetch failed."""
    if not plan.fixed_outputs:
        return set()
    nixcli.realise(list(plan.fixed_outputs), store=None, on_stderr_line=on_line)
    outputs = [path for drv in plan.fixed_outputs for path in plan.derivations[drv].output_paths]
    valid = nixcli.path_infos(outputs, store=None)
    return {
        drv
        for drv in plan.fixed_outputs
        if any(valid.get(path) is None for path in plan.derivations[drv].output_paths)
    }


def seed_store(plan: Plan, store: Store, *, failed_fetches: set[str]) -> None:
    """Copy the store derivations and the fetched sources into ``store`` (nothing built)."""
    nixcli.copy_paths([plan.top], to_store=store.copy_url(), derivation=True)
    fetched = [
        path
        for drv in plan.fixed_outputs
        if drv not in failed_fetches
        for path in plan.derivations[drv].output_paths
    ]
    nixcli.copy_paths(fetched, to_store=store.copy_url())


def build(
    drv_paths: Sequence[str], store: Store, settings: RunSettings, *, on_line: LineSink | None
) -> nixcli.NixResult:
    """Realise derivations in ``store`` with the run's settings (keep going past failures)."""
    return nixcli.realise(
        list(drv_paths),
        store=store.url,
        settings=settings.nix_settings,
        env=settings.env(),
        wrapper=settings.wrapper,
        on_stderr_line=on_line,
    )
