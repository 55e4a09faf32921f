"""Run ``p2n generate`` on real public projects, as their users would.

Each project comes from its sdist on PyPI (``projects.toml`` names it,
``sdists.toml`` pins name, version, URL and sha256). Its lock is made here, at
run time, by the real tool, pinned in time:

- ``uv``: ``uv lock --exclude-newer DATE``; a uv.lock shipped in the sdist is
  left in place, like a developer running ``uv lock`` in a checkout.
- ``poetry1`` / ``poetry2``: ``poetry lock`` of Poetry 1.8 / 2.x, against
  :mod:`tests.corpus.pypi_before`, a loopback view of PyPI without the files
  uploaded after DATE.
- ``shipped``: the lock inside the sdist, as it is.
- ``committed``: a third-party lock committed under ``locks/`` (its source
  named in projects.toml), where no sdist and no tool here shows the shape.

DATE is the project's ``exclude-newer`` (default: the upload time of its first
sdist, i.e. the world as it was when the release was made).

The outcome is ``ok`` or the one-line refusal p2n printed; ``expected.toml``
records what each project gave, and the test asserts it stays so.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import tomllib
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tests.corpus.pypi_before import POETRY_MAIN

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PROJECTS_FILE = HERE / "projects.toml"
SDISTS_FILE = HERE / "sdists.toml"
EXPECTED_FILE = HERE / "expected.toml"
LOCKS_DIR = HERE / "locks"

POETRY_VERSIONS = {"poetry1": "poetry==1.8.5", "poetry2": "poetry==2.5.1"}
"""The Poetry releases that lock the Poetry projects (1.x: lock-version 2.0; 2.x: 2.1)."""
POETRY_INSTALL_DATE = "2026-10-01T00:00:00Z"
"""Poetry's own dependencies are installed as of this date, so the lockers stay the same."""

TOOL_TIMEOUT = 480


@dataclass(frozen=True)
class Sdist:
    """One sdist and where it goes in the project's tree."""

    name: str
    version: str
    place: str
    filename: str
    url: str
    sha256: str
    uploaded: str


@dataclass(frozen=True)
class Project:
    """One corpus entry (a table of projects.toml, its sdists pinned by sdists.toml)."""

    id: str
    tool: str
    why: str
    sdists: tuple[Sdist, ...]
    root: str
    exclude_newer: str
    lock: str | None
    lock_source: str | None
    build: bool
    generate_args: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """``ok``, or ``refused: <p2n's line>``; ``lock failed: …`` would be the corpus's fault."""

    project: str
    result: str
    lock_seconds: float
    generate_seconds: float
    warnings: tuple[str, ...]
    project_dir: Path


def _sdist_key(name: str, version: str) -> str:
    return f"{name}=={version}"


def load_projects() -> list[Project]:
    """The projects, in file order, with their sdists' pins."""
    projects = tomllib.loads(PROJECTS_FILE.read_text())["project"]
    pins = tomllib.loads(SDISTS_FILE.read_text()) if SDISTS_FILE.exists() else {}
    loaded = []
    for entry in projects:
        sdists = []
        for spec in entry.get("sdists", []):
            name, _, rest = spec.partition("==")
            version, _, place = rest.partition(" at ")
            pin = pins.get(_sdist_key(name, version))
            if pin is None:
                raise KeyError(f"{name}=={version} is not pinned: python -m tests.corpus.pin")
            sdists.append(
                Sdist(
                    name,
                    version,
                    place or ".",
                    pin["filename"],
                    pin["url"],
                    pin["sha256"],
                    pin["uploaded"],
                )
            )
        exclude_newer = entry.get("exclude-newer") or (sdists[0].uploaded if sdists else "")
        loaded.append(
            Project(
                id=entry["id"],
                tool=entry["tool"],
                why=entry["why"],
                sdists=tuple(sdists),
                root=entry.get("root", "."),
                exclude_newer=exclude_newer,
                lock=entry.get("lock"),
                lock_source=entry.get("lock-source"),
                build=entry.get("build", False),
                generate_args=tuple(entry.get("generate-args", [])),
            )
        )
    return loaded


def load_expected() -> dict[str, str]:
    """Recorded outcomes by project id (written by ``python -m tests.corpus.table --update``)."""
    if not EXPECTED_FILE.exists():
        return {}
    return dict(tomllib.loads(EXPECTED_FILE.read_text())["outcome"])


class SdistCache:
    """Downloads each sdist once (per cache directory), checked against its pinned sha256."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, sdist: Sdist) -> Path:
        with self._guard:
            lock = self._locks.setdefault(sdist.sha256, threading.Lock())
        with lock:
            path = self.directory / sdist.filename
            if path.exists() and _sha256(path) == sdist.sha256:
                return path
            partial = path.with_name(path.name + ".part")
            with (
                urllib.request.urlopen(sdist.url, timeout=120) as response,
                partial.open("wb") as out,
            ):
                shutil.copyfileobj(response, out)
            digest = _sha256(partial)
            if digest != sdist.sha256:
                partial.unlink()
                raise RuntimeError(f"{sdist.filename}: sha256 {digest}, pinned {sdist.sha256}")
            partial.rename(path)
            return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _unpack(archive: Path, target: Path) -> None:
    """Unpack an sdist's single top directory into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".unpack-{target.name}"
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(staging)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(staging, filter="data")
    (top,) = list(staging.iterdir())
    for item in top.iterdir():
        shutil.move(str(item), target / item.name)
    shutil.rmtree(staging)


class Lockers:
    """The real lock tools: uv from this venv, Poetry 1.x and 2.x in venvs of their own."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self._poetry: dict[str, Path] = {}
        self._guard = threading.Lock()
        uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
        if uv is None:
            raise RuntimeError("uv is not installed (scripts/setup.sh installs it in .venv)")
        self.uv = uv

    def poetry_python(self, tool: str) -> Path:
        """The interpreter of a venv holding ``POETRY_VERSIONS[tool]`` (made once)."""
        with self._guard:
            if tool in self._poetry:
                return self._poetry[tool]
            venv = self.work / tool
            subprocess.run(
                [self.uv, "venv", "-q", "--python", sys.executable, str(venv)],
                check=True,
                capture_output=True,
                text=True,
            )
            subprocess.run(
                [
                    self.uv,
                    "pip",
                    "install",
                    "-q",
                    "--python",
                    str(venv / "bin" / "python"),
                    "--exclude-newer",
                    POETRY_INSTALL_DATE,
                    POETRY_VERSIONS[tool],
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            self._poetry[tool] = venv / "bin" / "python"
            return self._poetry[tool]

    def lock(self, project: Project, root: Path) -> subprocess.CompletedProcess[str] | None:
        """Make the project's lock in ``root``; None when the lock comes with the project."""
        env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_PYTHON": sys.executable}
        if project.tool == "uv":
            return subprocess.run(
                [self.uv, "lock", "--exclude-newer", project.exclude_newer],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=TOOL_TIMEOUT,
            )
        if project.tool in POETRY_VERSIONS:
            python = self.poetry_python(project.tool)
            env = {
                **env,
                "POETRY_CACHE_DIR": str(self.work / f"{project.tool}-cache-{project.id}"),
                "POETRY_VIRTUALENVS_CREATE": "false",
                "POETRY_NO_INTERACTION": "1",
            }
            with subprocess.Popen(
                [sys.executable, "-m", "tests.corpus.pypi_before", project.exclude_newer],
                cwd=REPO,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            ) as proxy:
                assert proxy.stdout is not None and proxy.stdin is not None
                url = proxy.stdout.readline().strip()
                try:
                    # -P: the project's own build.py (pendulum 2) must not shadow PyPA build
                    return subprocess.run(
                        [str(python), "-P", "-c", POETRY_MAIN, url, "lock", "--no-interaction"],
                        cwd=root,
                        env=env,
                        capture_output=True,
                        text=True,
                        timeout=TOOL_TIMEOUT,
                    )
                finally:
                    proxy.stdin.close()
        if project.tool == "committed":
            assert project.lock is not None
            shutil.copyfile(LOCKS_DIR / project.lock, root / PurePosixPath(project.lock).name)
            return None
        if project.tool == "shipped":
            return None
        raise ValueError(f"{project.id}: unknown tool {project.tool!r}")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def _tool_error(text: str) -> str:
    """The line of a lock tool's output that says what failed (uv's ``error:``)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("error", "\N{MULTIPLICATION SIGN}", "Because", "cause:")):
            return line
    return lines[-1] if lines else "(no output)"


def _normalise(message: str, tree: Path) -> str:
    """Take the machine's paths out of a message, so outcomes compare across runs."""
    message = message.replace(str(tree), "<project>")
    return re.sub(r"/tmp/[^\s:'\"]+", "<tmp>", message)


def run_project(project: Project, work: Path, sdists: SdistCache, lockers: Lockers) -> Outcome:
    """Unpack, lock, ``git add`` and ``p2n generate`` one project under ``work/<id>``."""
    tree = work / project.id
    if tree.exists():
        shutil.rmtree(tree)
    for sdist in project.sdists:
        _unpack(sdists.get(sdist), tree / sdist.place)
    root = tree / project.root
    started = time.monotonic()
    try:
        locked = lockers.lock(project, root)
    except subprocess.TimeoutExpired:
        return Outcome(
            project.id,
            f"lock failed: timed out after {TOOL_TIMEOUT} s",
            time.monotonic() - started,
            0.0,
            (),
            root,
        )
    lock_seconds = time.monotonic() - started
    if locked is not None and locked.returncode != 0:
        message = _normalise(_tool_error(locked.stderr + locked.stdout), tree)
        return Outcome(project.id, f"lock failed: {message}", lock_seconds, 0.0, (), root)
    # Real projects live in git; monorepo path sources are found through it.
    subprocess.run(["git", "init", "-q", str(tree)], check=True)
    subprocess.run(["git", "-C", str(tree), "add", "-A"], check=True, capture_output=True)
    started = time.monotonic()
    generated = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyproject2nix",
            "generate",
            "--project",
            str(root),
            *project.generate_args,
        ],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT,
    )
    generate_seconds = time.monotonic() - started
    warnings = tuple(
        _normalise(line.strip(), tree)
        for line in generated.stderr.splitlines()
        if line.strip().startswith("WARNING") or "warning:" in line.lower()
    )
    said = _normalise(_last_line(generated.stderr), tree)
    if generated.returncode == 0:
        result = "ok"
    elif generated.returncode == 2:
        result = f"refused: {said}"
    else:
        result = f"crashed (exit {generated.returncode}): {said}"
    return Outcome(project.id, result, lock_seconds, generate_seconds, warnings, root)


def run_corpus(
    projects: Iterable[Project],
    work: Path,
    cache: Path,
    jobs: int,
    on_done: Callable[[Outcome], None] | None = None,
) -> Mapping[str, Outcome]:
    """Run projects concurrently (locking waits on the network more than on the cores)."""
    sdists = SdistCache(cache)
    lockers = Lockers(work / ".tools")
    projects = list(projects)
    # Poetry resolves one request at a time: start the Poetry projects first.
    slow_first = sorted(projects, key=lambda p: p.tool not in POETRY_VERSIONS)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {p.id: pool.submit(run_project, p, work, sdists, lockers) for p in slow_first}
        if on_done is not None:
            for future in futures.values():
                future.add_done_callback(lambda done: on_done(done.result()))
        return {p.id: futures[p.id].result() for p in projects}


def default_jobs() -> int:
    """Concurrent projects: ``P2N_CORPUS_JOBS`` or 8 (most time is spent waiting on PyPI)."""
    return int(os.environ.get("P2N_CORPUS_JOBS", "8"))
