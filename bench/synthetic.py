"""A synthetic uv.lock of any size, made deterministically (same bytes every time).

Real locks of 1,000 packages are rare and large to commit; this one has their
shape: registry packages with a dependency DAG, some markers, an sdist each,
and every fourth package with native wheels (4 CPython versions x 7 platforms)
beside the pure ones, about 14 files per package on average like real locks.
URLs and hashes are made up: the lock is for `p2n generate`, `uv export` and
`nix eval` of the drvPath, never for a build.
"""

from __future__ import annotations

import base64
import hashlib
import random
import zipfile
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


# --- a buildable synthetic project -------------------------------------------
#
# The lock above names made-up URLs: fine for generate and eval, never built.
# For cold builds at any size the bench makes real wheels instead: small pure
# wheels (an __init__ and five modules each), written into the project and named
# as path sources, so a build measures p2n's and Nix's cost per package without
# a download. ``uv lock --offline`` locks them (the bench runs it): the lock is
# uv's own, and ``uv sync`` installs the same wheels as the peer.

_MODULES = 5
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _wheel_files(index: int, deps: list[int]) -> dict[str, bytes]:
    module = _name(index).replace("-", "_")
    dist_info = f"{module}-1.0.0.dist-info"
    files: dict[str, bytes] = {
        f"{module}/__init__.py": b"from .mod0 import value\n",
    }
    for number in range(_MODULES):
        files[f"{module}/mod{number}.py"] = (
            f'"""Module {number} of {_name(index)}."""\n\nVALUE = {index * 10 + number}\n\n\n'
            f"def value(offset: int = 0) -> int:\n    return VALUE + offset\n"
        ).encode()
    requires = "".join(f"Requires-Dist: {_name(dep)}\n" for dep in deps)
    files[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {_name(index)}\nVersion: 1.0.0\n{requires}"
    ).encode()
    files[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    files[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    return files


def write_wheel(path: Path, files: dict[str, bytes]) -> None:
    """A wheel with fixed timestamps and modes, so the same files give the same bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, _ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)


def write_buildable_project(directory: Path, packages: int, seed: int = 7) -> Path:
    """``pyproject.toml`` and ``wheels/*.whl`` of a project of ``packages`` local wheels.

    Each wheel depends on up to three earlier ones (a DAG like a real lock's);
    every wheel is also a direct dependency with a path source, as uv needs.
    Run ``uv lock --offline`` in ``directory`` afterwards.
    """
    rng = random.Random(seed)
    wheels = directory / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    sources: list[str] = []
    for index in range(packages):
        deps = sorted(rng.sample(range(index), min(index, rng.choice((0, 1, 2, 3)))))
        module = _name(index).replace("-", "_")
        filename = f"{module}-1.0.0-py3-none-any.whl"
        write_wheel(wheels / filename, _wheel_files(index, deps))
        sources.append(f'{_name(index)} = {{ path = "wheels/{filename}" }}')
    dependencies = ", ".join(f'"{_name(index)}"' for index in range(packages))
    (directory / "pyproject.toml").write_text(
        f'[project]\nname = "{PROJECT}-build"\nversion = "1.0.0"\nrequires-python = ">=3.11"\n'
        f"dependencies = [{dependencies}]\n\n[tool.uv]\npackage = false\n\n"
        "[tool.uv.sources]\n" + "\n".join(sources) + "\n"
    )
    return directory
