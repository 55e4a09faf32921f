"""Debian's chromium, headless, for tests of pages p2n writes (no browser download).

Flags as on these machines: root needs --no-sandbox; background networking,
component updates and sync are off so the browser makes no requests of its own.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    # Any host name resolves to nothing: a page that needed the network would show it.
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError(
            "chromium is not installed: run scripts/setup.sh (apt-get install chromium)"
        )
    return path


def _run(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def dump_dom(url: str, profile: Path) -> str:
    """The DOM after the page's scripts ran, serialised (``--dump-dom``)."""
    return _run(profile, "--virtual-time-budget=2000", "--dump-dom", url).stdout


def screenshot(url: str, destination: Path, profile: Path, size: str = "1280,1400") -> Path:
    # A sandboxed iframe (diffoscope's page) paints in its own process, which the
    # headless screenshot does not wait for: about half the shots showed it empty.
    isolation = "--disable-features=IsolateSandboxedIframes"
    _run(profile, isolation, f"--window-size={size}", f"--screenshot={destination}", url)
    return destination
