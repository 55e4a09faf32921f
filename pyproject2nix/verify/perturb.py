"""What the second build (run B) varies, and how each variation reaches the builder.

Nix decides most of what a builder sees: it clears the environment, sets
umask 022, and in the sandbox fixes the host name ("localhost"), the uid
(1000) and the file system. So each perturbation here goes through a handle
Nix or the kernel really gives: a Nix setting (build dir, cores, max-jobs,
a 2.6 kernel personality, an extra sandbox path for /etc/localtime, another
build-users group), the CPU affinity or UTS namespace nix-store inherits,
or a disorderfs mount under the build directory. Those that cannot apply
(tool missing, remote store, not root, sandboxed) are listed with the reason,
as are the ones Nix never lets vary.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .envcheck import EXTRA_ENVIRONMENT
from .model import NotPerturbed, Perturbation

BUILD_DIR_A = "/build"  # Nix's default sandbox-build-dir: what the user's own builds see
BUILD_DIR_B = "/build-p2n-b"
MIN_CLOCK_GAP_SECONDS = 1.0
MAX_JOBS_CAP = 8  # below the 10 build users Debian creates: a build that gets none waits 5 s
TIMEZONE_B = "Asia/Kathmandu"  # UTC+05:45: no whole-hour offset hides it
ZONEINFO = Path("/usr/share/zoneinfo")
BUILD_GROUP_A = "nixbld"
BUILD_GROUP_B = "p2nbld"  # a second build-users group with other uids (scripts/setup.sh makes it)
HOSTNAME_B = "p2n-second-build"

# Every name --perturb accepts, in report order. "clock" always applies.
NAMES = (
    "build-dir",
    "cores",
    "max-jobs",
    "cpus",
    "kernel",
    "timezone",
    "build-user",
    "file-order",
    "hostname",
    "environment",
    "umask",
)
# Asked for by reproducible-builds practice, but Nix fixes them for every builder.
# (Nix sets umask 022 for every builder and the environment from the derivation alone:
# both vary only through the variant derivations of envcheck.py.)
FIXED_BY_NIX: dict[str, str] = {}
STATIC_SHELL = Path("/bin/bash-static")  # runs in the sandbox without libraries (Debian)
UMASK_B = "077"


@dataclass(frozen=True)
class Host:
    """What this machine and run B's store allow; detected once, given explicitly in tests."""

    local_builds: bool  # builders are children of the nix-store p2n runs (chroot or local store)
    sandboxed: bool  # run B builds in Nix's sandbox (chroot stores always do)
    root: bool
    cpus: int
    kernel_release: str
    hostname: str
    tools: frozenset[str]  # of taskset, unshare, disorderfs, fusermount3 found on PATH
    fuse: bool  # /dev/fuse exists
    timezone_file: Path | None  # zoneinfo file for TIMEZONE_B, when installed
    build_group_uids: dict[str, tuple[int, ...]]  # build-users group → its members' uids
    store_a_local: bool = True  # run A's store is this machine's (environment variants go there)
    static_shell: Path | None = None  # for the umask variant's builder wrapper

    @classmethod
    def detect(cls, *, local_builds: bool, sandboxed: bool, store_a_local: bool = True) -> Host:
        groups: dict[str, tuple[int, ...]] = {}
        for name in (BUILD_GROUP_A, BUILD_GROUP_B):
            try:
                members = grp.getgrnam(name).gr_mem
            except KeyError:
                continue
            groups[name] = tuple(sorted(_uid(member) for member in members))
        zone = ZONEINFO / TIMEZONE_B
        return cls(
            local_builds=local_builds,
            sandboxed=sandboxed,
            root=os.geteuid() == 0,
            cpus=len(os.sched_getaffinity(0)),
            kernel_release=os.uname().release,
            hostname=socket.gethostname(),
            tools=frozenset(
                tool
                for tool in ("taskset", "unshare", "disorderfs", "fusermount3")
                if shutil.which(tool)
            ),
            fuse=Path("/dev/fuse").exists(),
            timezone_file=zone if zone.is_file() else None,
            build_group_uids=groups,
            store_a_local=store_a_local,
            static_shell=STATIC_SHELL if STATIC_SHELL.is_file() else None,
        )


def _uid(user: str) -> int:
    return pwd.getpwnam(user).pw_uid


@dataclass(frozen=True)
class PerturbationPlan:
    """Settings of run A and B, what B runs under, and what was (not) varied."""

    settings_a: dict[str, str]
    settings_b: dict[str, str]
    wrapper_b: tuple[str, ...] = ()  # argv prefix for run B's nix-store (taskset, unshare)
    file_order: bool = False  # mount disorderfs over run B's temp dir
    applied: tuple[Perturbation, ...] = ()
    not_applied: tuple[NotPerturbed, ...] = ()
    tmpdir_b_name: str = "tmp-b"
    # max-jobs of the environment variants, which build in store A while run B builds
    # (core.py): within the build users the two runs share, if they share a group.
    max_jobs_beside_b: str = "1"


def parse_names(text: str) -> frozenset[str]:
    """``--perturb build-dir,cores`` → the names, or a one-line error naming the unknown one."""
    names = frozenset(part.strip() for part in text.split(",") if part.strip())
    for name in sorted(names):
        if name in FIXED_BY_NIX:
            raise InputError(f"--perturb {name}: cannot be varied: {FIXED_BY_NIX[name]}")
        if name not in NAMES:
            raise InputError(
                f"--perturb: unknown perturbation {name!r}; choose from {', '.join(NAMES)}"
            )
    return names


def _why_unavailable(name: str, host: Host) -> str | None:
    """Why ``name`` cannot apply on ``host`` (None: it can)."""
    remote = "run B builds on another machine (remote store), out of p2n's reach"
    if name == "cpus":
        if not host.local_builds:
            return remote
        if host.cpus < 2:
            return "this machine has one CPU"
        if "taskset" not in host.tools:
            return "taskset not found (Debian: util-linux)"
    if name == "timezone":
        if host.local_builds and not host.sandboxed:
            return "unsandboxed builders read the host's /etc/localtime in both builds"
        if host.local_builds and host.timezone_file is None:
            return f"{ZONEINFO / TIMEZONE_B} not found (Debian: apt-get install tzdata)"
    if name == "build-user":
        if not host.local_builds:
            return remote
        if not host.root:
            return "only root's Nix builds as build users"
        if not host.build_group_uids.get(BUILD_GROUP_B):
            return (
                f"no group {BUILD_GROUP_B} with members (scripts/setup.sh creates it, as "
                f"{BUILD_GROUP_A}: groupadd {BUILD_GROUP_B}; useradd -g {BUILD_GROUP_B} "
                f"-G {BUILD_GROUP_B} {BUILD_GROUP_B}1 …)"
            )
    if name == "file-order":
        if not host.local_builds:
            return remote
        if "disorderfs" not in host.tools:
            return "disorderfs not found (Debian: apt-get install disorderfs)"
        if not host.fuse:
            return "no /dev/fuse on this machine"
        if not host.root:
            return "disorderfs --multi-user (the build users read through it) needs root"
    if name in ("environment", "umask") and not host.store_a_local:
        return "the variants are made and built in store A, which is on another machine"
    if name == "umask" and host.static_shell is None:
        return f"needs a static shell at {STATIC_SHELL} (Debian: apt-get install bash-static)"
    if name == "hostname":
        if not host.local_builds:
            return remote
        if host.sandboxed:
            return "the sandbox sets the host name to localhost in every build"
        if not host.root or "unshare" not in host.tools:
            return "needs root and unshare (util-linux) for a UTS namespace"
    return None


def plan_perturbations(requested: frozenset[str] | None, host: Host) -> PerturbationPlan:
    """Run A's and B's settings for ``requested`` (None: every one this host allows).

    A name asked for explicitly that cannot apply is an error, so CI never
    believes a variation was tested when it was not.
    """
    wanted = set(NAMES if requested is None else requested)
    not_applied: list[NotPerturbed] = []
    for name in NAMES:
        if name not in wanted:
            continue
        reason = _why_unavailable(name, host)
        if reason is None:
            continue
        if requested is not None:
            raise InputError(f"--perturb {name}: not possible here: {reason}")
        wanted.discard(name)
        not_applied.append(NotPerturbed(name, reason))
    not_applied += [NotPerturbed(name, reason) for name, reason in FIXED_BY_NIX.items()]

    cpus = host.cpus
    jobs_a = min(max(1, cpus), MAX_JOBS_CAP)
    settings_a = {
        "sandbox-build-dir": BUILD_DIR_A,
        "cores": "1",
        "max-jobs": str(jobs_a),
        # Both runs build everything themselves: a binary cache or a remote
        # builder's store would hand both the same old output and prove nothing.
        "substitute": "false",
        "builders": "",
    }
    settings_b = dict(settings_a)
    wrapper: list[str] = []
    applied = [
        Perturbation(
            "clock",
            "first build",
            f"starts at least {MIN_CLOCK_GAP_SECONDS:g} s after the first build finished",
            "time stamps written during the build differ",
        )
    ]
    tmpdir_b = "tmp-b"
    if "build-dir" in wanted:
        settings_b["sandbox-build-dir"] = BUILD_DIR_B
        tmpdir_b = "tmp-b-p2n-second-build"  # what an unsandboxed builder sees as its build dir
        applied.append(
            Perturbation(
                "build-dir",
                BUILD_DIR_A,
                BUILD_DIR_B,
                "sandbox-build-dir setting; the builder sees it as its working directory "
                "and in NIX_BUILD_TOP, TMPDIR, TEMPDIR, TMP, TEMP "
                "(unsandboxed builds: another host temp dir)",
            )
        )
    if "cores" in wanted:
        settings_b["cores"] = str(max(2, cpus))
        applied.append(
            Perturbation(
                "cores", "1", settings_b["cores"], "cores setting; builder sees NIX_BUILD_CORES"
            )
        )
    # Each concurrent build takes a user of the build-users group.
    users_b = len(host.build_group_uids.get(BUILD_GROUP_B, ())) if "build-user" in wanted else 0
    # B's max-jobs differs from A's and stays within the cap: one fewer where A is at it.
    jobs_b = (
        max(jobs_a + 1, min(2 * cpus, MAX_JOBS_CAP)) if jobs_a < MAX_JOBS_CAP else jobs_a - 1
    )
    if "max-jobs" in wanted and users_b and users_b < jobs_b:
        wanted.discard("max-jobs")
        not_applied.append(
            NotPerturbed("max-jobs", f"group {BUILD_GROUP_B} has {users_b} build users")
        )
    if "max-jobs" in wanted:
        settings_b["max-jobs"] = str(jobs_b)
        applied.append(
            Perturbation(
                "max-jobs",
                str(jobs_a),
                str(jobs_b),
                "max-jobs setting; independent derivations build concurrently (load, ordering)",
            )
        )
    if "cpus" in wanted:
        wrapper += ["taskset", "--cpu-list", "0"]
        applied.append(
            Perturbation(
                "cpus",
                f"{cpus} CPUs",
                "1 CPU",
                "CPU affinity of run B's nix-store, inherited by its builders: nproc, "
                "os.sched_getaffinity and make -j$(nproc) see one CPU",
            )
        )
    if "kernel" in wanted:
        settings_b["impersonate-linux-26"] = "true"
        applied.append(
            Perturbation(
                "kernel",
                host.kernel_release if host.local_builds else "the builder's kernel",
                "2.6.x",
                "impersonate-linux-26 setting: uname reports a Linux 2.6 release",
            )
        )
    if "timezone" in wanted:
        source = host.timezone_file or ZONEINFO / TIMEZONE_B
        # "?": optional, so a remote builder without that zone file still builds.
        settings_b["extra-sandbox-paths"] = f"/etc/localtime={source}?"
        applied.append(
            Perturbation(
                "timezone",
                "UTC (no /etc/localtime in the sandbox)",
                f"{TIMEZONE_B} (UTC+05:45)",
                "extra-sandbox-paths puts /etc/localtime into the sandbox: local time "
                "(date, time.localtime, strftime) moves; TZ itself stays unset, as Nix leaves it",
            )
        )
    if "build-user" in wanted:
        uids_a = host.build_group_uids.get(BUILD_GROUP_A, ())
        uids_b = host.build_group_uids[BUILD_GROUP_B]
        settings_b["build-users-group"] = BUILD_GROUP_B
        settings_b["max-jobs"] = str(min(int(settings_b["max-jobs"]), len(uids_b)))
        applied.append(
            Perturbation(
                "build-user",
                f"{BUILD_GROUP_A} ({_uid_range(uids_a)})",
                f"{BUILD_GROUP_B} ({_uid_range(uids_b)})",
                "build-users-group setting: another host uid and gid; sandboxed builders "
                "still see uid 1000 and gid 100 (user namespace) but /proc/self/uid_map and "
                "gid_map show the host ids, and unsandboxed builders run as them",
            )
        )
    file_order = "file-order" in wanted
    if file_order:
        applied.append(
            Perturbation(
                "file-order",
                "creation order of the host file system",
                "reversed (disorderfs)",
                "run B's build directories live on disorderfs --reverse-dirents: every "
                "directory listing (readdir, os.listdir, os.walk, glob) in the build "
                "directory comes back in reverse order",
            )
        )
    if "hostname" in wanted:
        wrapper = [
            "unshare",
            "--uts",
            "--",
            "sh",
            "-c",
            f'hostname {HOSTNAME_B} && exec "$@"',
            "sh",
            *wrapper,
        ]
        applied.append(
            Perturbation(
                "hostname",
                host.hostname,
                HOSTNAME_B,
                "run B's nix-store runs in its own UTS namespace with another host name, "
                "which unsandboxed builders see",
            )
        )
    if "environment" in wanted:
        applied.append(
            Perturbation(
                "environment",
                "the derivation's variables",
                " ".join(f"{name}={value}" for name, value in EXTRA_ENVIRONMENT.items()),
                "Nix passes a builder no variable the derivation lacks, so each derivation "
                "is also rebuilt on its own in store A, on A's inputs, as a variant with "
                "these variables added (where it does not set them itself); its output is "
                "compared with A's after mapping the variant's output paths back",
            )
        )
    if "umask" in wanted:
        applied.append(
            Perturbation(
                "umask",
                "022 (Nix sets it for every builder)",
                UMASK_B,
                "each derivation's variant (as for environment) runs its builder through a "
                f"static shell that sets umask {UMASK_B} first; file modes inside archives, "
                "and what a build can read back, may change (Nix stores files 0444/0555)",
            )
        )
    jobs_beside_b = jobs_a
    if "build-user" not in wanted:  # B takes users of A's group too
        users_a = len(host.build_group_uids.get(BUILD_GROUP_A, ()))
        if users_a:
            jobs_beside_b = max(1, min(jobs_a, users_a - int(settings_b["max-jobs"])))
    return PerturbationPlan(
        max_jobs_beside_b=str(jobs_beside_b),
        settings_a=settings_a,
        settings_b=settings_b,
        wrapper_b=tuple(wrapper),
        file_order=file_order,
        applied=tuple(applied),
        not_applied=tuple(not_applied),
        tmpdir_b_name=tmpdir_b,
    )


def _uid_range(uids: Iterable[int]) -> str:
    ordered = sorted(uids)
    if not ordered:
        return "no members"
    return f"uid {ordered[0]}" if len(ordered) == 1 else f"uids {ordered[0]}-{ordered[-1]}"
