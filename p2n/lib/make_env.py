"""Builder of the environment: a venv-shaped tree that merges every package.

``$out/pyvenv.cfg`` names the interpreter's ``bin`` as ``home`` and
``$out/bin/python`` links to the interpreter, so running it gives
``sys.prefix == $out`` and sees ``$out/lib/pythonX.Y/site-packages`` with no
wrapper. Package trees are merged by symlinks (directories shared by several
packages, such as namespace packages, become real directories); scripts are
copied with their shebang pointed at ``$out/bin/python``.
Inputs: ``packages`` (store paths, space-separated), ``interpreter``, ``sitePackages``.
"""

import os
import sys
from typing import NoReturn

out = os.environ["out"]
interpreter = os.environ["interpreter"]
packages = os.environ["packages"].split()
owner: dict[str, str] = {}


def fail(message: str) -> NoReturn:
    print("p2n environment:", message, file=sys.stderr)
    sys.exit(1)


def same_file(a: str, b: str) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def expand(directory: str) -> None:
    """Turn a symlink to a directory into a real directory of links to its entries."""
    target = os.readlink(directory)
    os.unlink(directory)
    os.mkdir(directory)
    for entry in sorted(os.listdir(target)):
        os.symlink(os.path.join(target, entry), os.path.join(directory, entry))
        owner[os.path.join(directory, entry)] = owner.get(directory, target)


def merge(source: str, destination: str, package: str, skip: tuple[str, ...] = ()) -> None:
    """Link ``source``'s entries into ``destination``, recursing where both have a directory."""
    for entry in sorted(os.listdir(source)):
        if entry in skip:
            continue
        src = os.path.join(source, entry)
        dst = os.path.join(destination, entry)
        if not os.path.lexists(dst):
            os.symlink(src, dst)
            owner[dst] = package
        elif os.path.isdir(src) and os.path.isdir(dst):
            if os.path.islink(dst):
                expand(dst)
            merge(src, dst, package)
        elif os.path.isfile(src) and os.path.isfile(dst) and same_file(src, dst):
            continue
        else:
            fail(f"{package} and {owner.get(dst, '?')} both provide {dst[len(out) + 1:]}")


def write_scripts(package: str) -> None:
    """Copy a package's scripts, pointing shebangs that name the interpreter at the env."""
    bin_dir = os.path.join(package, "bin")
    if not os.path.isdir(bin_dir):
        return
    for entry in sorted(os.listdir(bin_dir)):
        src = os.path.join(bin_dir, entry)
        dst = os.path.join(out, "bin", entry)
        if os.path.lexists(dst):
            print(f"p2n environment: keeping {entry} of {owner[dst]}, not {package}")
            continue
        with open(src, "rb") as handle:
            content = handle.read()
        shebang = b"#!" + interpreter.encode()
        if content.startswith(shebang):
            content = b"#!" + os.path.join(out, "bin", "python").encode() + content[len(shebang):]
            with open(dst, "wb") as handle:
                handle.write(content)
            os.chmod(dst, 0o555)
        else:
            os.symlink(src, dst)
        owner[dst] = package


os.makedirs(os.path.join(out, "bin"))
os.makedirs(os.path.join(out, os.environ["sitePackages"]))
home = os.path.dirname(interpreter)
version = "{}.{}.{}".format(*sys.version_info[:3])
with open(os.path.join(out, "pyvenv.cfg"), "w") as cfg:
    cfg.write(f"home = {home}\ninclude-system-site-packages = false\nversion = {version}\n")
minor = "{}.{}".format(*sys.version_info[:2])
for name in ("python", "python3", "python" + minor):
    os.symlink(interpreter, os.path.join(out, "bin", name))
    owner[os.path.join(out, "bin", name)] = "the interpreter"

for package in packages:
    merge(package, out, package, skip=("bin",))
    write_scripts(package)
print(f"p2n environment: {len(packages)} packages in {out}")
