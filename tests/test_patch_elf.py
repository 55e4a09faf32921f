"""nix/patch_elf.py without Nix: its ELF reader agrees with patchelf, patchelf runs only to change.

The files are the host interpreter's own (its binary, ``lib-dynload``, the
libraries ``ldd`` finds): real ELF files of the kind wheels ship. Needs
``patchelf`` on the host, as the stand-in does.
"""

from __future__ import annotations

import importlib.util
import shutil
import stat
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import REPO
from tests.support.standin import host_python


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("p2n_patch_elf", REPO / "nix" / "patch_elf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


patch_elf = _load()


def _patchelf() -> str:
    found = shutil.which("patchelf")
    assert found, "patchelf is needed (apt-get install patchelf), as for the stand-in"
    return found


def _host_elves() -> list[Path]:
    host = host_python()
    modules = sorted(host.lib_dynload.glob("*.so"))
    assert modules
    libraries = []
    listing = subprocess.run(
        ["ldd", str(modules[0]), str(host.binary)], capture_output=True, text=True, check=False
    ).stdout
    for line in listing.splitlines():
        parts = line.split("=>")
        if len(parts) == 2 and parts[1].strip().startswith("/"):
            libraries.append(Path(parts[1].split("(")[0].strip()))
    return [host.binary, *modules, *libraries]


def _ask_patchelf(path: Path) -> tuple[list[str], list[str]] | None:
    needed = subprocess.run(
        [_patchelf(), "--print-needed", str(path)], capture_output=True, text=True, check=False
    )
    if needed.returncode != 0:
        return None
    rpath = subprocess.run(
        [_patchelf(), "--print-rpath", str(path)], capture_output=True, text=True, check=True
    ).stdout.strip()
    return needed.stdout.split(), [entry for entry in rpath.split(":") if entry]


def test_reader_agrees_with_patchelf_on_real_files() -> None:
    elves = _host_elves()
    assert len(elves) > 10
    for path in elves:
        assert patch_elf.read_dynamic(str(path)) == _ask_patchelf(path), path


def test_reader_sees_a_runpath_patchelf_set(tmp_path: Path) -> None:
    module = next(host_python().lib_dynload.glob("_json*.so"))
    copy = tmp_path / module.name
    shutil.copyfile(module, copy)
    subprocess.run([_patchelf(), "--set-rpath", "$ORIGIN/../lib:/x", str(copy)], check=True)
    assert patch_elf.read_dynamic(str(copy)) == _ask_patchelf(copy)
    assert patch_elf.read_dynamic(str(copy))[1] == ["$ORIGIN/../lib", "/x"]


def test_not_an_elf_file_is_left_to_patchelf(tmp_path: Path) -> None:
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(patch_elf.ElfError):
        patch_elf.read_dynamic(str(script))


def test_patchelf_runs_only_for_files_whose_runpath_changes(tmp_path: Path) -> None:
    """_ssl needs libssl/libcrypto (found in a library dir), _json nothing but libc."""
    dynload = host_python().lib_dynload
    tree = tmp_path / "out" / "site-packages"
    tree.mkdir(parents=True)
    for pattern in ("_ssl*.so", "_json*.so"):
        module = next(dynload.glob(pattern))
        shutil.copyfile(module, tree / module.name)
        subprocess.run([_patchelf(), "--remove-rpath", str(tree / module.name)], check=True)
    ssl = next(tree.glob("_ssl*.so"))
    needed, _ = patch_elf.read_dynamic(str(ssl))
    libs = tmp_path / "libs"
    libs.mkdir()
    for soname in needed:
        if soname.startswith(("libssl", "libcrypto")):
            (libs / soname).write_bytes(b"")  # only its presence is looked up
    calls = tmp_path / "calls"
    wrapper = tmp_path / "patchelf"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec {_patchelf()} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)

    changed = patch_elf.patch_tree(str(tmp_path / "out"), "demo", str(wrapper), [str(libs)], "x")

    assert changed == 1
    [call] = calls.read_text().splitlines()
    assert call.startswith(f"--set-rpath {libs} ") and call.endswith(ssl.name)
    assert patch_elf.read_dynamic(str(ssl))[1] == [str(libs)]


def test_reader_finds_the_interpreter_of_programs_only() -> None:
    host = host_python()
    expected = subprocess.run(
        [_patchelf(), "--print-interpreter", str(host.binary)], capture_output=True, text=True
    ).stdout.strip()
    assert expected.startswith("/")
    assert patch_elf.read_interpreter(str(host.binary)) == expected
    module = next(host.lib_dynload.glob("_json*.so"))
    assert patch_elf.read_interpreter(str(module)) is None


def test_programs_get_the_nix_loader_and_glibc_on_their_runpath(tmp_path: Path) -> None:
    """A wheel's program names /lib64/ld-linux-x86-64.so.2: absent in the sandbox and on NixOS."""
    tree = tmp_path / "out" / "bin"
    tree.mkdir(parents=True)
    program = tree / "tool"
    shutil.copyfile(shutil.which("true") or "/bin/true", program)
    program.chmod(0o755)
    subprocess.run([_patchelf(), "--remove-rpath", str(program)], check=True)
    module = tree / "_json.so"
    shutil.copyfile(next(host_python().lib_dynload.glob("_json*.so")), module)
    subprocess.run([_patchelf(), "--remove-rpath", str(module)], check=True)
    loader = "/nix/store/00000000000000000000000000000000-glibc-2.40/lib/ld-linux-x86-64.so.2"

    changed = patch_elf.patch_tree(str(tmp_path / "out"), "demo", _patchelf(), [], "", loader)

    assert changed == 1
    assert patch_elf.read_interpreter(str(program)) == loader
    assert patch_elf.read_dynamic(str(program))[1] == [loader.rsplit("/", 1)[0]]
    # A library loaded into a process keeps no interpreter and needs no glibc entry.
    assert patch_elf.read_interpreter(str(module)) is None
    assert patch_elf.read_dynamic(str(module))[1] == []
    # Patched once: a second run changes nothing.
    assert patch_elf.patch_tree(str(tmp_path / "out"), "demo", _patchelf(), [], "", loader) == 0
