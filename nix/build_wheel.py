"""A minimal PEP 517 frontend: build a wheel from source inside the sandbox, offline.

Loaded by install_wheel.py from the path in ``buildWheelScript`` when the
package is built from source. Inputs (derivation attributes): ``src`` (an
sdist file or a source directory), ``subdirectory`` (within it, optional),
``buildWheels`` (JSON: the pinned wheels of the build requirements, each
``{path, name}``), ``buildBackend``, ``backendPath`` (JSON), ``p2nPatches``
(space-separated patch files, applied with ``patchTool -p1``),
``pretendVersion`` (the version, for plugins that read it from git). The build
requirements are installed with PyPA installer into a scratch prefix (their
ELF programs and libraries patched like installed packages' when the build
has ``patchElfScript``: uv_build's ``uv-build``, ninja, cmake), then
the backend runs in a fresh interpreter (``get_requires_for_build_wheel``,
``build_wheel``) with that prefix on ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import NoReturn

# Runs in a fresh interpreter in the source directory: argv = backend, backend path (JSON),
# output directory, report file. Prints nothing itself; the backend's output is the log.
_HOOK_RUNNER = r"""
import importlib, json, os, sys
backend_name, backend_path, outdir, report = sys.argv[1:5]
sys.path[:0] = [os.path.abspath(p) for p in json.loads(backend_path)]
module, _, attribute = backend_name.partition(":")
backend = importlib.import_module(module)
for part in filter(None, attribute.split(".")):
    backend = getattr(backend, part)
hook = getattr(backend, "get_requires_for_build_wheel", None)
requires = list(hook({})) if hook else []
with open(report, "w") as handle:
    json.dump({"requires": requires}, handle)
name = backend.build_wheel(outdir, {})
with open(report, "w") as handle:
    json.dump({"requires": requires, "wheel": name}, handle)
"""


def fail(message: str) -> NoReturn:
    print(f"p2n: {message}", file=sys.stderr)
    sys.exit(1)


def unpack(src: str, scratch: str) -> str:
    """A writable copy of the source tree; returns its top directory."""
    target = os.path.join(scratch, "source")
    if os.path.isdir(src):
        shutil.copytree(src, target, symlinks=True)
        top = target
    else:
        os.makedirs(target)
        if zipfile.is_zipfile(src):
            with zipfile.ZipFile(src) as archive:
                archive.extractall(target)
        else:
            with tarfile.open(src) as archive:
                archive.extractall(target, filter="tar")
        entries = os.listdir(target)
        top = os.path.join(target, entries[0]) if len(entries) == 1 else target
    # Backends write beside the source (setuptools' <name>.egg-info, build/): every
    # directory of the copy, its top included, must be writable, as in a store copy it is not.
    for directory, dirs, files in os.walk(target):
        for path in [directory, *(os.path.join(directory, name) for name in dirs + files)]:
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | stat.S_IWUSR)
    subdirectory = os.environ.get("subdirectory")
    return os.path.join(top, subdirectory) if subdirectory else top


def apply_patches(top: str) -> None:
    patches = os.environ.get("p2nPatches", "").split()
    for patch in patches:
        print(f"p2n: applying {patch}")
        result = subprocess.run([os.environ["patchTool"], "-p1", "-i", patch], cwd=top)
        if result.returncode != 0:
            fail(f"{os.environ['pname']}: patch {patch} does not apply")


def install_requirements(prefix: str) -> str:
    """Install the pinned build requirements into ``prefix``; return its site-packages."""
    from installer import install
    from installer.destinations import SchemeDictionaryDestination
    from installer.sources import WheelFile

    site = os.path.join(prefix, "site-packages")
    scheme = {
        "purelib": site,
        "platlib": site,
        "headers": os.path.join(prefix, "include"),
        "scripts": os.path.join(prefix, "bin"),
        "data": prefix,
    }
    destination = SchemeDictionaryDestination(
        scheme, interpreter=sys.executable, script_kind="posix", bytecode_optimization_levels=()
    )
    links = os.path.join(prefix, "wheels")
    os.makedirs(links)
    for wheel in json.loads(os.environ.get("buildWheels", "[]")):
        linked = os.path.join(links, wheel["name"])
        os.symlink(wheel["path"], linked)
        with WheelFile.open(Path(linked)) as source:
            install(source, destination, {})
    if os.environ.get("patchElfScript"):
        # Programs of build requirements (uv-build, ninja, cmake) must start in the sandbox.
        spec = importlib.util.spec_from_file_location("patch_elf", os.environ["patchElfScript"])
        assert spec is not None and spec.loader is not None
        patch_elf = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(patch_elf)
        patch_elf.patch_from_environment(prefix)
    return site


def pretend_version(env: dict[str, str], top: str, name: str, version: str) -> None:
    """Hand ``version`` to the plugins that compute it from git: the source has no ``.git``.

    Their documented overrides: setuptools-scm (hatch-vcs uses it) and its
    vcs-versioning successor, uv-dynamic-versioning, poetry-dynamic-versioning,
    pdm-backend's scm source. versioningit has none; it falls back to an sdist's
    ``PKG-INFO``, written here when the source has none.
    """
    dist = re.sub(r"[-_.]+", "_", name).upper()
    for variable in ("SETUPTOOLS_SCM_PRETEND_VERSION", "VCS_VERSIONING_PRETEND_VERSION"):
        env[variable] = version
        env[f"{variable}_FOR_{dist}"] = version
    env["UV_DYNAMIC_VERSIONING_BYPASS"] = version
    env["POETRY_DYNAMIC_VERSIONING_BYPASS"] = version
    env["PDM_BUILD_SCM_VERSION"] = version
    wheels = json.loads(os.environ.get("buildWheels", "[]"))
    pkg_info = os.path.join(top, "PKG-INFO")
    if any(w["name"].startswith("versioningit-") for w in wheels) and not os.path.exists(pkg_info):
        with open(pkg_info, "w") as handle:
            handle.write(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


# What a failed build's output shows, most specific first: (cause, patterns).
_CAUSES = (
    (
        "version",
        re.compile(
            r"unable to detect version|Unable to find 'git'|Error getting the version|"
            r"NotVCSError|version could not be determined|not a git repository|"
            r"No version found|setuptools-scm was unable|could not determine (the )?version",
            re.IGNORECASE,
        ),
    ),
    (
        "compiler",
        re.compile(
            r"command '[^']*(gcc|cc|g\+\+|c\+\+|clang)' failed|"
            r"unable to execute '[^']*(gcc|cc|clang)|"
            r"No such file or directory: '[^']*(gcc|cc|g\+\+|c\+\+|clang)'|Unknown compiler|"
            r"CMAKE_(C|CXX)_COMPILER|can't find Rust compiler|No CMAKE_C_COMPILER|"
            r"cargo: (command )?not found|error: Microsoft Visual C",
            re.IGNORECASE,
        ),
    ),
    ("library", re.compile(r"([\w.+-]+\.so(\.\d+)*): cannot open shared object file")),
    (
        "program",
        re.compile(
            r"No such file or directory: '([^']+)'|([\w./+-]+): (command )?not found|"
            r"Program '([^']+)' not found|could not find (program )?'?([\w.+-]+)'? in PATH",
        ),
    ),
    ("read-only", re.compile(r"(Permission denied|Read-only file system)(: '([^']+)')?")),
)


def diagnose(output: str, name: str, stdenv: bool) -> list[str]:
    """The cause of a failed build, from the backend's output, and the fix to try."""
    for cause, pattern in _CAUSES:
        match = pattern.search(output)
        if match is None:
            continue
        start = output.rfind("\n", 0, match.start()) + 1
        end = output.find("\n", match.end())
        seen = output[start : end if end != -1 else len(output)].strip()[:200]
        override = f"[tool.p2n.packages.{name}]"
        if cause == "version":
            return [
                f"p2n: cause: the version comes from git, and a Nix build has no .git ({seen}). "
                "Run p2n generate in the git checkout (it records the version the backend "
                "reports and passes it to the build), or state [project] version."
            ]
        if cause == "compiler":
            return [
                f"p2n: cause: a compiler is needed ({seen}). Build it with nixpkgs' stdenv: "
                f'{override} stdenv = true, build-inputs = ["<nixpkgs library>", ...], '
                'native-build-inputs = ["pkg-config", ...] in pyproject.toml'
            ]
        if cause == "library":
            return [
                f"p2n: cause: a native library is missing ({seen}). Add the nixpkgs package "
                f'that has it: {override} build-inputs = ["<nixpkgs package>"] '
                '(or libraries = ["..."] for a wheel the build runs)'
            ]
        if cause == "program":
            program = os.path.basename(next((g for g in match.groups() if g), seen))
            if re.search(r"\.[A-Za-z]{1,4}$", program):
                return [
                    f"p2n: cause: a file the build needs is missing from the source ({seen}). "
                    "A flake in a git repository sees only tracked files: git add it."
                ]
            return [
                f"p2n: cause: a program the build runs is missing ({seen}). If it comes "
                f'as a wheel: {override} build-requires = ["{program}"]; from nixpkgs: '
                f'native-build-inputs = ["{program}"]. A wheel\'s program that exists but '
                "does not start has no Nix loader: regenerate with this p2n."
            ]
        return [
            f"p2n: cause: the build wrote where it may not ({seen}). p2n builds in a writable "
            "copy of the source; a backend writing elsewhere (HOME is the build directory) "
            f"needs a patch: {override} patches = [...]"
        ]
    if stdenv:
        return [
            "p2n: if a library or tool is missing, add the nixpkgs package: "
            f"[tool.p2n.packages.{name}] build-inputs / native-build-inputs"
        ]
    return [
        "p2n: it was built with the interpreter alone. If it compiles C/C++/Rust code, "
        f"build it with nixpkgs' stdenv and its libraries: [tool.p2n.packages.{name}] "
        'stdenv = true, build-inputs = ["<nixpkgs package>", ...], '
        'native-build-inputs = ["pkg-config", ...] in pyproject.toml'
    ]


def _name(requirement: str) -> str:
    for stop in "<>=!~;[ (@":
        requirement = requirement.split(stop, 1)[0]
    return requirement.strip().lower().replace("_", "-").replace(".", "-")


def build(scratch: str) -> str:
    """Build the wheel; return its path."""
    name = os.environ["pname"]
    top = unpack(os.environ["src"], scratch)
    apply_patches(top)
    prefix = os.path.join(scratch, "build-env")
    site = install_requirements(prefix)
    outdir = os.path.join(scratch, "dist")
    os.makedirs(outdir)
    report = os.path.join(scratch, "hooks.json")
    env = dict(os.environ)
    env.update(
        PYTHONPATH=site,
        PATH=os.path.join(prefix, "bin") + os.pathsep + env.get("PATH", ""),
        HOME=scratch,
        PYTHONNOUSERSITE="1",
    )
    if os.environ.get("pretendVersion"):
        pretend_version(env, top, name, os.environ["pretendVersion"])
    backend = os.environ["buildBackend"]
    print(f"p2n: building {name} {os.environ['version']} from source with {backend}")
    # The backend's output goes to the log as it comes and is kept to name a failure's cause.
    process = subprocess.Popen(
        [sys.executable, "-c", _HOOK_RUNNER, backend, os.environ.get("backendPath", "[]"),
         outdir, report],
        cwd=top,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    assert process.stdout is not None
    output = []
    for line in process.stdout:
        sys.stdout.write(line)
        output.append(line)
    result: subprocess.CompletedProcess[str] = subprocess.CompletedProcess(
        process.args, process.wait()
    )
    installed = {
        _name(n[: -len(".dist-info")].rsplit("-", 1)[0])
        for n in os.listdir(site)
        if n.endswith(".dist-info")
    }
    hooks = {}
    if os.path.exists(report):
        with open(report) as handle:
            hooks = json.load(handle)
    missing = [r for r in hooks.get("requires", []) if _name(r) not in installed]
    if result.returncode != 0 or "wheel" not in hooks:
        lines = [f"building {name} from source failed (backend {backend})."]
        if missing:
            listed = ", ".join(json.dumps(r) for r in missing)
            lines.append(
                f"p2n: the backend asked for build requirements p2n did not pin: {listed}; "
                f"add them: [tool.p2n.packages.{name}] build-requires = [{listed}]"
            )
        lines += diagnose("".join(output), name, bool(os.environ.get("stdenvBuild")))
        fail("\n".join(lines))
    if missing:
        print(f"p2n: warning: build requirements not pinned: {missing}", file=sys.stderr)
    return os.path.join(outdir, hooks["wheel"])
