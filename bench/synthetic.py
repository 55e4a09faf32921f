"""A synthetic uv.lock of any size, made deterministically (same bytes every time).

Real locks of 1,000 packages are rare and large to commit; this one has their
shape: registry packages with a dependency DAG, some markers, an sdist each,
and every fourth package with native wheels (4 CPython versions x 7 platforms)
beside the pure ones, about 14 files per package on average like real locks.
URLs and hashes are made up: the lock is for `p2n generate`, `uv export` and
`nix eval` of the drvPath, never for a build.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

PROJECT = "synthetic"
_PYTHONS = ("cp311", "cp312", "cp313", "cp314")
_PLATFORMS = (
    "macosx_10_9_x86_64",
    "macosx_11_0_arm64",
    "manylinux_2_17_aarch64.manylinux2014_aarch64",
    "manylinux_2_17_x86_64.manylinux2014_x86_64",
    "musllinux_1_2_x86_64",
    "win32",
    "win_amd64",
)
_MARKERS = (
    "sys_platform == 'win32'",
    "python_full_version < '3.12'",
    "platform_python_implementation == 'CPython'",
)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _file(filename: str) -> str:
    digest = _digest(filename)
    url = (
        f"https://files.pythonhosted.org/packages/{digest[:2]}/{digest[2:4]}/{digest[4:]}/"
        f"{filename}"
    )
    size = int(digest[:5], 16)
    return (
        f'{{ url = "{url}", hash = "sha256:{_digest(url)}", size = {size}, '
        f'upload-time = "2024-01-01T00:00:00Z" }}'
    )


def _name(index: int) -> str:
    return f"synth-pkg-{index:04d}"


def synthetic_lock(packages: int, seed: int = 7) -> tuple[str, str]:
    """``(pyproject.toml, uv.lock)`` texts for a project locking ``packages`` packages."""
    rng = random.Random(seed)
    depended: set[int] = set()
    entries: list[str] = []
    for index in range(packages):
        name = _name(index)
        version = f"{1 + index % 5}.{index % 13}.{index % 7}"
        stem = f"{name.replace('-', '_')}-{version}"
        deps = sorted(rng.sample(range(index), min(index, rng.choice((0, 1, 2, 3, 4)))))
        depended.update(deps)
        lines = [
            "[[package]]",
            f'name = "{name}"',
            f'version = "{version}"',
            'source = { registry = "https://pypi.org/simple" }',
        ]
        if deps:
            lines.append("dependencies = [")
            for dep in deps:
                marker = _MARKERS[dep % len(_MARKERS)] if (index + dep) % 9 == 0 else None
                marker_text = f', marker = "{marker}"' if marker else ""
                lines.append(f'    {{ name = "{_name(dep)}"{marker_text} }},')
            lines.append("]")
        lines.append(f"sdist = {_file(stem + '.tar.gz')}")
        if index % 4 == 0:
            wheels = [
                f"{stem}-{py}-{py}-{platform}.whl" for py in _PYTHONS for platform in _PLATFORMS
            ]
        else:
            wheels = [f"{stem}-py3-none-any.whl"]
        lines.append("wheels = [")
        lines.extend(f"    {_file(wheel)}," for wheel in sorted(wheels))
        lines.append("]")
        entries.append("\n".join(lines))
    roots = [index for index in range(packages) if index not in depended]
    root_deps = "\n".join(f'    {{ name = "{_name(index)}" }},' for index in roots)
    requires = ", ".join(f'{{ name = "{_name(index)}" }}' for index in roots)
    entries.append(
        "\n".join(
            [
                "[[package]]",
                f'name = "{PROJECT}"',
                'version = "1.0.0"',
                'source = { virtual = "." }',
                "dependencies = [",
                root_deps,
                "]",
                "",
                "[package.metadata]",
                f"requires-dist = [{requires}]",
            ]
        )
    )
    entries.sort(key=lambda entry: entry.split('"', 2)[1])
    lock = 'version = 1\nrevision = 3\nrequires-python = ">=3.11"\n\n' + "\n\n".join(entries)
    dependencies = ", ".join(f'"{_name(index)}"' for index in roots)
    pyproject = (
        f'[project]\nname = "{PROJECT}"\nversion = "1.0.0"\nrequires-python = ">=3.11"\n'
        f"dependencies = [{dependencies}]\n\n[tool.uv]\npackage = false\n"
    )
    return pyproject, lock + "\n"


def write_synthetic_project(directory: Path, packages: int) -> Path:
    """Write pyproject.toml and uv.lock of a synthetic project into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    pyproject, lock = synthetic_lock(packages)
    (directory / "pyproject.toml").write_text(pyproject)
    (directory / "uv.lock").write_text(lock)
    return directory
