"""``packages.<system>.image``: built by Nix, read by skopeo and podman, run under bwrap, verified.

podman, skopeo and bubblewrap come from Debian (scripts/setup.sh). ``podman
run`` is tried too: on these machines crun cannot set rlimits ("setrlimit …
Operation not permitted"), so there the entrypoint is run from the image's
unpacked layers under bwrap instead; where podman may run containers, its
output is checked as well.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, copy_project, run_nix, run_p2n

pytestmark = pytest.mark.nix


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=False, timeout=600)


def _blob(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.removeprefix("sha256:")


def _unpack(archive: Path, target: Path) -> dict[str, object]:
    """Extract the image's layers in order into ``target``; return its config."""
    layout = target.parent / "layout"
    with tarfile.open(archive) as tar:
        tar.extractall(layout, filter="tar")
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(_blob(layout, index["manifests"][0]["digest"]).read_text())
    for layer in manifest["layers"]:
        with tarfile.open(_blob(layout, layer["digest"])) as tar:
            tar.extractall(target, filter="tar")
    config: dict[str, object] = json.loads(_blob(layout, manifest["config"]["digest"]).read_text())
    return config


@pytest.fixture
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.mark.usefixtures("_cache")
def test_image_loads_runs_and_verifies(
    tmp_path: Path, standin_override: list[str], request: pytest.FixtureRequest
) -> None:
    project = copy_project(FIXTURES / "reqs" / "piptools", tmp_path / "tally")
    generated = run_p2n("generate", "--project", str(project), "--system", "x86_64-linux")
    assert generated.returncode == 0, generated.stderr
    built = run_nix("build", f"path:{project}#image", *standin_override, "--json", "--no-link")
    assert built.returncode == 0, built.stderr
    image = Path(json.loads(built.stdout)[0]["outputs"]["out"])
    env_built = run_nix("build", f"path:{project}", *standin_override, "--json", "--no-link")
    env = json.loads(env_built.stdout)[0]["outputs"]["out"]
    entrypoint = [f"{env}/bin/tally"]

    inspected = _run("skopeo", "inspect", "--config", f"oci-archive:{image}")
    assert inspected.returncode == 0, inspected.stderr
    config = json.loads(inspected.stdout)
    assert config["config"]["Entrypoint"] == entrypoint
    assert config["architecture"] == "amd64" and config["os"] == "linux"
    assert [h["created_by"] for h in config["history"]] == [
        "p2n: the interpreter",
        "p2n: the dependencies",
        "p2n: the project and its environment",
    ]
    assert "created" not in config  # no timestamp

    # podman refuses a runroot path longer than 50 characters: pytest's tmp_path is longer.
    runroot = Path(tempfile.mkdtemp(prefix="p2n-podman-", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(runroot, ignore_errors=True))
    # vfs: plain directories, no overlay mount left behind in tmp_path.
    storage = ["--root", str(tmp_path / "podman"), "--runroot", str(runroot)]
    storage += ["--storage-driver", "vfs"]
    loaded = _run("podman", *storage, "load", "-i", str(image))
    assert loaded.returncode == 0, loaded.stderr
    assert "Loaded image: localhost/tally-image:latest" in loaded.stdout
    podman_inspect = _run("podman", *storage, "image", "inspect", "localhost/tally-image:latest")
    assert podman_inspect.returncode == 0, podman_inspect.stderr
    assert json.loads(podman_inspect.stdout)[0]["Config"]["Entrypoint"] == entrypoint
    ran = _run("podman", *storage, "run", "--rm", "--network", "none", "localhost/tally-image")
    if ran.returncode == 0:
        assert "yaml_c: true" in ran.stdout
    else:  # this machine: crun may not set rlimits; the bwrap run below stands in
        assert "setrlimit" in ran.stderr, ran.stderr

    rootfs = tmp_path / "rootfs"
    unpacked = _unpack(image, rootfs)
    assert unpacked["config"] == config["config"]
    bwrap = _run(
        "bwrap", "--ro-bind", str(rootfs), "/", "--dev", "/dev", "--proc", "/proc",
        "--tmpfs", "/tmp", "--unshare-all", "--clearenv", "--setenv", "PATH", f"{env}/bin",
        *entrypoint,
    )  # fmt: skip
    assert bwrap.returncode == 0, bwrap.stderr
    assert "tally" in bwrap.stdout and "yaml_c: true" in bwrap.stdout
    # Nothing from the host: only the store paths of the closure, and the mount points.
    assert sorted(p.name for p in rootfs.iterdir()) == ["dev", "nix", "proc", "tmp"]

    report = tmp_path / "verify.json"
    verified = run_p2n(
        "verify", f"path:{project}#image", "--override-input", "nixpkgs",
        standin_override[-1], "--json", str(report),
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "reproducible" in verified.stdout
    document = json.loads(report.read_text())
    assert document["verdict"] == "reproducible"
    assert document["derivation"].endswith("-tally-image.drv")
