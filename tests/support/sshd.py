"""An sshd on loopback with a throwaway key and a non-root user, for ssh-ng:// store tests.

The far side runs Nix as that user: ``nix-daemon --stdio`` (what ssh-ng://
starts) with ``remote-store=local?root=DIR``, so each store is a chroot store
the user owns. Needs root (useradd, sshd) and Debian's openssh-server, which
scripts/setup.sh installs. Everything lives in a world-traversable temp dir
(the user must reach its store and sshd its keys) and goes away afterwards.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from pyproject2nix.verify.stores import remove_tree

REMOTE_USER = "p2nremote"
SSHD = Path("/usr/sbin/sshd")


@dataclass(frozen=True)
class LoopbackSsh:
    user: str
    port: int
    base: Path  # owned by root, 0755; stores live under it, owned by the user
    nix_sshopts: str  # for NIX_SSHOPTS: port, key, no host-key prompts

    def store_url(self, name: str) -> str:
        """ssh-ng URL of a chroot store ``base/name`` on the far side."""
        remote_store = quote(f"local?root={self.base / name}", safe="")
        return f"ssh-ng://{self.user}@127.0.0.1?remote-store={remote_store}"

    def store_root(self, name: str) -> Path:
        return self.base / name

    def ssh(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ssh", *self.nix_sshopts.split(), f"{self.user}@127.0.0.1", command],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )


def _ensure_user() -> int:
    try:
        entry = pwd.getpwnam(REMOTE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--shell", "/bin/sh", "--home-dir", "/tmp",
             "--no-create-home", "--user-group", REMOTE_USER],
            check=True,
            capture_output=True,
        )  # fmt: skip
        entry = pwd.getpwnam(REMOTE_USER)
    # "*": no password login, but not "locked" ("!"), which sshd refuses even for keys.
    subprocess.run(["usermod", "-p", "*", REMOTE_USER], check=True, capture_output=True)
    return entry.pw_uid


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
    )


@contextmanager
def loopback_sshd() -> Iterator[LoopbackSsh]:
    """Start sshd on 127.0.0.1 for a non-root user; stop it and remove everything after."""
    if os.geteuid() != 0 or not SSHD.exists():
        raise RuntimeError("needs root and openssh-server: run scripts/setup.sh as root")
    uid = _ensure_user()
    gid = pwd.getpwnam(REMOTE_USER).pw_gid
    base = Path(tempfile.mkdtemp(prefix="p2n-ssh-", dir="/tmp"))
    base.chmod(0o755)
    keys = base / "keys"  # root's: host key, client key, authorized_keys
    keys.mkdir(mode=0o755)
    _keygen(keys / "host")
    _keygen(keys / "client")
    shutil.copy(keys / "client.pub", keys / "authorized_keys")
    (keys / "authorized_keys").chmod(0o644)
    home = base / "home"
    home.mkdir()
    os.chown(home, uid, gid)
    # The far side's Nix configuration, as a builder machine here would have it.
    (base / "etc").mkdir(mode=0o755)
    (base / "etc" / "nix.conf").write_text("substituters =\nsandbox = true\n")
    for name in ("store-a", "store-b"):
        (base / name).mkdir()
        os.chown(base / name, uid, gid)
    config = keys / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"ListenAddress 127.0.0.1:{(port := _free_port())}",
                f"HostKey {keys / 'host'}",
                f"AuthorizedKeysFile {keys / 'authorized_keys'}",
                f"AllowUsers {REMOTE_USER}",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "UseDNS no",
                "StrictModes no",
                f"PidFile {keys / 'sshd.pid'}",
                # The far side's Nix: a writable home, its own nix.conf.
                f"SetEnv HOME={home} NIX_CONF_DIR={base / 'etc'}",
                "",
            ]
        )
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
    sshd = subprocess.Popen(
        [str(SSHD), "-D", "-e", "-f", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(keys / "sshd.log", "w"),  # noqa: SIM115 (closed with the process)
    )
    # One shared connection for the dozen Nix commands of a verify run (each would
    # otherwise log in anew); the master exits with sshd.
    opts = (
        f"-p {port} -i {keys / 'client'} -o StrictHostKeyChecking=no "
        "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes "
        f"-o ControlMaster=auto -o ControlPath={keys / 'mux'} -o ControlPersist=120"
    )
    loopback = LoopbackSsh(REMOTE_USER, port, base, opts)
    try:
        deadline = time.monotonic() + 20
        while loopback.ssh("true").returncode != 0:
            if sshd.poll() is not None or time.monotonic() > deadline:
                log = (keys / "sshd.log").read_text()
                raise RuntimeError(f"sshd did not accept the test key: {log[-2000:]}")
            time.sleep(0.2)
        yield loopback
    finally:
        subprocess.run(
            ["ssh", *opts.split(), "-O", "exit", f"{REMOTE_USER}@127.0.0.1"],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        sshd.terminate()
        sshd.wait(timeout=20)
        remove_tree(base)
