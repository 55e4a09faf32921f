"""Which perturbations the second build applies, where, and why not (no Nix)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from pyproject2nix.errors import InputError
from pyproject2nix.verify.perturb import (
    BUILD_DIR_A,
    BUILD_DIR_B,
    FIXED_BY_NIX,
    MAX_JOBS_CAP,
    NAMES,
    Host,
    PerturbationPlan,
    parse_names,
    plan_perturbations,
)

LOCAL_ROOT = Host(
    local_builds=True,
    sandboxed=True,
    root=True,
    cpus=2,
    kernel_release="6.1.0",
    hostname="ci",
    tools=frozenset({"taskset", "unshare", "disorderfs", "fusermount3"}),
    fuse=True,
    timezone_file=Path("/usr/share/zoneinfo/Asia/Kathmandu"),
    build_group_uids={"nixbld": (990, 991, 992), "p2nbld": tuple(range(980, 988))},
    static_shell=Path("/bin/bash-static"),
)


def names(plan: PerturbationPlan) -> list[str]:
    return [p.name for p in plan.applied]


def test_every_allowed_perturbation_applies_by_default() -> None:
    plan = plan_perturbations(None, LOCAL_ROOT)
    assert names(plan) == ["clock", *[n for n in NAMES if n != "hostname"]]
    a, b = plan.settings_a, plan.settings_b
    assert a["sandbox-build-dir"] == BUILD_DIR_A and b["sandbox-build-dir"] == BUILD_DIR_B
    assert (a["cores"], b["cores"]) == ("1", "2")
    assert int(b["max-jobs"]) > int(a["max-jobs"])
    assert int(b["max-jobs"]) <= 8  # one build user each: p2nbld has eight
    assert b["impersonate-linux-26"] == "true" and "impersonate-linux-26" not in a
    assert b["extra-sandbox-paths"] == "/etc/localtime=/usr/share/zoneinfo/Asia/Kathmandu?"
    assert b["build-users-group"] == "p2nbld" and "build-users-group" not in a
    assert plan.wrapper_b == ("taskset", "--cpu-list", "0")
    assert plan.file_order
    for settings in (a, b):  # never a binary cache's or a remote builder's copy
        assert (settings["substitute"], settings["builders"]) == ("false", "")
    not_applied = {item.name: item.reason for item in plan.not_applied}
    assert set(not_applied) == {"hostname"}
    assert "localhost" in not_applied["hostname"]


def test_max_jobs_stays_within_the_second_group() -> None:
    host = dataclasses.replace(LOCAL_ROOT, build_group_uids={"p2nbld": (980, 981)})
    plan = plan_perturbations(None, host)
    assert "max-jobs" not in names(plan) and "build-user" in names(plan)
    assert plan.settings_b["max-jobs"] == "2"
    assert "2 build users" in {i.name: i.reason for i in plan.not_applied}["max-jobs"]


def test_environment_variables_are_named_in_the_report() -> None:
    [environment] = [
        p for p in plan_perturbations(None, LOCAL_ROOT).applied if p.name == "environment"
    ]
    assert "TZ=NPT-5:45" in environment.value_b and "LC_ALL=C.UTF-8" in environment.value_b
    assert plan_perturbations(frozenset({"environment"}), LOCAL_ROOT).settings_a == (
        plan_perturbations(frozenset({"environment"}), LOCAL_ROOT).settings_b
    )  # it changes the derivation, not Nix's settings


def test_no_perturb_keeps_only_the_clock() -> None:
    plan = plan_perturbations(frozenset(), LOCAL_ROOT)
    assert names(plan) == ["clock"]
    assert plan.settings_a == plan.settings_b
    assert plan.wrapper_b == () and not plan.file_order


def test_hostname_needs_an_unsandboxed_local_build() -> None:
    host = dataclasses.replace(LOCAL_ROOT, sandboxed=False)
    plan = plan_perturbations(frozenset({"hostname", "cpus"}), host)
    assert names(plan) == ["clock", "cpus", "hostname"]
    assert plan.wrapper_b[:3] == ("unshare", "--uts", "--")
    assert plan.wrapper_b[-3:] == ("taskset", "--cpu-list", "0")  # both wrap nix-store
    # Unsandboxed builders read the host's /etc/localtime in both runs.
    assert "timezone" in {item.name for item in plan_perturbations(None, host).not_applied}


def test_remote_store_gets_only_what_travels_as_settings() -> None:
    remote = dataclasses.replace(LOCAL_ROOT, local_builds=False)
    plan = plan_perturbations(None, remote)
    assert names(plan) == [
        "clock", "build-dir", "cores", "max-jobs", "kernel", "timezone", "environment", "umask",
    ]  # fmt: skip
    reasons = {item.name: item.reason for item in plan.not_applied}
    for name in ("cpus", "build-user", "file-order", "hostname"):
        assert "remote store" in reasons[name]
    # Environment variants are made and built in store A: not when A is remote too.
    both_remote = dataclasses.replace(remote, store_a_local=False)
    reasons = {i.name: i.reason for i in plan_perturbations(None, both_remote).not_applied}
    assert "store A" in reasons["environment"] and "store A" in reasons["umask"]


@pytest.mark.parametrize(
    ("change", "name", "reason"),
    [
        ({"tools": frozenset({"taskset"})}, "file-order", "disorderfs not found"),
        ({"fuse": False}, "file-order", "no /dev/fuse"),
        ({"root": False}, "build-user", "only root"),
        ({"build_group_uids": {"nixbld": (990,)}}, "build-user", "no group p2nbld"),
        ({"cpus": 1}, "cpus", "one CPU"),
        ({"timezone_file": None}, "timezone", "tzdata"),
        ({"static_shell": None}, "umask", "bash-static"),
    ],
)
def test_missing_tool_is_reported_and_an_explicit_request_fails(
    change: dict[str, Any], name: str, reason: str
) -> None:
    host = dataclasses.replace(LOCAL_ROOT, **change)
    plan = plan_perturbations(None, host)
    assert name not in names(plan)
    assert reason in {item.name: item.reason for item in plan.not_applied}[name]
    with pytest.raises(InputError, match=f"--perturb {name}: not possible here: .*{reason}"):
        plan_perturbations(frozenset({name}), host)


def test_perturb_list_parsing() -> None:
    assert parse_names("cpus, kernel,,") == {"cpus", "kernel"}
    with pytest.raises(InputError, match="unknown perturbation 'locale'"):
        parse_names("cpus,locale")
    assert FIXED_BY_NIX == {}  # environment and umask vary through variant derivations


def test_variants_beside_run_b_share_the_build_users_only_when_b_uses_a_group() -> None:
    # B builds as p2nbld: the variants (store A, during B) keep all of A's max-jobs.
    plan = plan_perturbations(None, LOCAL_ROOT)
    assert plan.max_jobs_beside_b == plan.settings_a["max-jobs"] == "2"
    # B takes nixbld's users too: the variants get what is left, at least one.
    ten = dataclasses.replace(
        LOCAL_ROOT, cpus=4, build_group_uids={"nixbld": tuple(range(990, 1000))}
    )
    shared = plan_perturbations(frozenset({"max-jobs", "environment"}), ten)
    assert (shared.settings_a["max-jobs"], shared.settings_b["max-jobs"]) == ("4", "8")
    assert shared.max_jobs_beside_b == "2"
    three = plan_perturbations(frozenset({"max-jobs", "umask"}), LOCAL_ROOT)
    assert three.max_jobs_beside_b == "1"


@pytest.mark.parametrize("cpus", [1, 2, 4, 7, 8, 16, 64])
def test_max_jobs_of_the_two_runs_differ_and_stay_within_the_cap(cpus: int) -> None:
    host = dataclasses.replace(
        LOCAL_ROOT, cpus=cpus, build_group_uids={"nixbld": (1,) * 10, "p2nbld": (2,) * 10}
    )
    plan = plan_perturbations(None, host)
    a, b = int(plan.settings_a["max-jobs"]), int(plan.settings_b["max-jobs"])
    assert a != b
    assert 1 <= a <= MAX_JOBS_CAP and 1 <= b <= MAX_JOBS_CAP
