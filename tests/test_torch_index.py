"""A PyTorch-style lock: ``linux_x86_64`` wheels with local versions, chosen by conflicting extras.

download.pytorch.org is not reachable here, so two loopback indexes stand in for
its CPU and CUDA indexes: wheels only (no sdist, no sizes), local versions
(``faketorch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl``, linked as ``%2Bcpu``),
tagged plain ``linux_x86_64``. Real ``uv lock`` locks a project set up the way
PyTorch's uv guide says: explicit indexes, ``tool.uv.sources`` chosen by extra,
and the two extras declared in conflict, so the lock carries uv's conflict
markers (``extra == 'extra-6-ml-app-cpu'``). p2n serves x86_64-linux from the
``linux_x86_64`` wheels and leaves out the systems the indexes have no file for.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.index.make_wheels import wheel
from tests.helpers import run_nix, run_p2n
from tests.support.localindex import serve, uv, write_simple_index

VARIANTS = ("cpu", "cu124")


# Each build pins its own version of a shared dependency, so the lock forks by extra.
NEEDS = {"cpu": "fakedep<2", "cu124": "fakedep>=2"}
FAKEDEP = {"cpu": "1.0", "cu124": "2.0"}


def _write(directory: Path, made: tuple[str, bytes]) -> Path:
    directory.mkdir(exist_ok=True)
    (directory / made[0]).write_bytes(made[1])
    return directory / made[0]


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``URL/cpu/simple/``, ``URL/cu124/simple/`` (faketorch builds) and ``URL/base/simple/``."""
    root = tmp_path_factory.mktemp("torch-index")
    for variant in VARIANTS:
        files = [
            _write(
                root / f"dist-{variant}",
                wheel(
                    "faketorch",
                    f"2.5.1+{variant}",
                    [NEEDS[variant]],
                    {},
                    f"VALUE = {variant!r}\n",
                    tag=f"{python}-{python}-linux_x86_64",
                ),
            )
            for python in ("cp311", "cp312")
        ]
        write_simple_index(files, root / variant)
    base = [
        _write(root / "dist-base", wheel("fakedep", version, [], {}, f"VALUE = {version!r}\n"))
        for version in ("1.0", "2.0")
    ]
    write_simple_index(base, root / "base")
    with serve(root) as url:
        yield url


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, indexes: str) -> Path:
    project = tmp_path_factory.mktemp("ml-app")
    (project / "pyproject.toml").write_text(
        '[project]\nname = "ml-app"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        'dependencies = ["fakedep"]\n\n'
        "[project.optional-dependencies]\n"
        'cpu = ["faketorch>=2.5"]\ncu124 = ["faketorch>=2.5"]\n\n'
        '[tool.uv]\nconflicts = [[{ extra = "cpu" }, { extra = "cu124" }]]\n\n'
        "[tool.uv.sources]\nfaketorch = [\n"
        '  { index = "pytorch-cpu", extra = "cpu" },\n'
        '  { index = "pytorch-cu124", extra = "cu124" },\n]\n\n'
        + "".join(
            f'[[tool.uv.index]]\nname = "pytorch-{v}"\nurl = "{indexes}/{v}/simple/"\n'
            "explicit = true\n\n"
            for v in VARIANTS
        )
        + f'[[tool.uv.index]]\nname = "base"\nurl = "{indexes}/base/simple/"\ndefault = true\n'
    )
    subprocess.run([uv(), "lock", "--quiet"], cwd=project, check=True, capture_output=True)
    return project


def test_the_lock_has_pytorch_shapes(project: Path) -> None:
    lock = (project / "uv.lock").read_text()
    assert "faketorch-2.5.1%2Bcpu-cp311-cp311-linux_x86_64.whl" in lock
    assert "marker = \"extra == 'extra-6-ml-app-cpu'\"" in lock  # uv's conflict markers
    assert "sdist" not in lock


@pytest.mark.parametrize("variant", VARIANTS)
def test_linux_wheels_serve_x86_64_linux_and_the_rest_is_left_out(
    project: Path, variant: str
) -> None:
    result = run_p2n("generate", "--project", str(project), "--extra", variant)
    assert result.returncode == 0, result.stderr
    assert "packages per system: x86_64-linux: 2" in result.stdout  # faketorch, fakedep
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert [w.split(" left out")[0] for w in warnings] == [
        f"p2n: WARNING: {system}" for system in ("aarch64-darwin", "aarch64-linux", "x86_64-darwin")
    ]
    assert f"package faketorch 2.5.1+{variant} has no wheel for aarch64-linux" in warnings[1]
    assert f"faketorch-2.5.1+{variant}-cp311-cp311-linux_x86_64.whl" in warnings[1]
    lock_nix = (project / "p2n" / "lock.nix").read_text()
    assert f'wheel = "faketorch-2.5.1+{variant}-cp311-cp311-linux_x86_64.whl";' in lock_nix
    # uv's conflict markers pick each extra's fork of the shared dependency.
    assert f'wheel = "fakedep-{FAKEDEP[variant]}-py3-none-any.whl";' in lock_nix
    other = next(v for v in VARIANTS if v != variant)
    assert f"+{other}-cp311" not in lock_nix.split("# p2n-settings")[1].split("WARNING")[0]
    assert "#   WARNING: aarch64-linux: package faketorch" in lock_nix


def test_without_a_variant_extra_nothing_is_missing(project: Path) -> None:
    result = run_p2n("generate", "--project", str(project))
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr
    assert "x86_64-darwin: 1" in result.stdout


def test_asking_for_a_system_without_files_fails(project: Path) -> None:
    result = run_p2n(
        "generate", "--project", str(project), "--extra", "cpu", "--system", "aarch64-darwin"
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "package faketorch 2.5.1+cpu has no wheel for aarch64-darwin" in result.stderr


@pytest.mark.nix
def test_the_remaining_system_builds(project: Path, standin_override: list[str]) -> None:
    """Real Nix, sandboxed: the ``linux_x86_64`` wheel installs; the other systems are absent."""
    result = run_p2n("generate", "--project", str(project), "--extra", "cpu")
    assert result.returncode == 0, result.stderr
    built = run_nix("build", f"path:{project}", *standin_override, "-o", str(project / "result"))
    assert built.returncode == 0, built.stderr
    code = "import fakedep, faketorch; print(faketorch.VALUE, fakedep.VALUE)"
    python = project / "result" / "bin" / "python"
    ran = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout.split() == ["cpu", "1.0"]  # the cpu build and the cpu fork's version
    evaluated = run_nix(
        "eval",
        "--json",
        f"path:{project}#packages",
        *standin_override,
        "--apply",
        "builtins.attrNames",
    )
    assert evaluated.returncode == 0, evaluated.stderr
    assert evaluated.stdout.strip() == '["x86_64-linux"]'


def test_the_locks_environments_are_honoured(
    tmp_path_factory: pytest.TempPathFactory, indexes: str
) -> None:
    """``environments`` excludes systems quietly; ``required-environments`` makes one strict."""
    project = tmp_path_factory.mktemp("ml-linux")
    (project / "pyproject.toml").write_text(
        '[project]\nname = "ml-linux"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        'dependencies = ["faketorch>=2.5"]\n\n'
        "[tool.uv]\n"
        "environments = [\"sys_platform == 'linux'\"]\n"
        "required-environments = [\"sys_platform == 'linux' and platform_machine == 'x86_64'\"]\n"
        '\n[tool.uv.sources]\nfaketorch = { index = "pytorch-cpu" }\n\n'
        f'[[tool.uv.index]]\nname = "pytorch-cpu"\nurl = "{indexes}/cpu/simple/"\nexplicit = true\n'
        f'[[tool.uv.index]]\nname = "base"\nurl = "{indexes}/base/simple/"\ndefault = true\n'
    )
    subprocess.run([uv(), "lock", "--quiet"], cwd=project, check=True, capture_output=True)
    lock = (project / "uv.lock").read_text()
    assert "supported-markers" in lock and "required-markers" in lock
    result = run_p2n("generate", "--project", str(project))
    assert result.returncode == 0, result.stderr
    assert "x86_64-linux: 2" in result.stdout
    for system in ("aarch64-darwin", "x86_64-darwin"):
        assert f"p2n: {system} left out: outside the lock's supported-markers" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and warnings[0].startswith("p2n: WARNING: aarch64-linux left out")
    # A lock that requires aarch64-linux must serve it: the missing wheel is an error.
    (project / "uv.lock").write_text(
        lock.replace("platform_machine == 'x86_64'", "platform_machine == 'aarch64'", 1)
    )
    required = run_p2n("generate", "--project", str(project))
    assert required.returncode == 2
    assert "package faketorch 2.5.1+cpu has no wheel for aarch64-linux" in required.stderr
