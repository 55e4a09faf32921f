"""Builder of an editable install of a local package (the project, workspace members).

Used by the development shell (and for local packages without a build
system): a ``.pth`` file puts the import root on ``sys.path``, a minimal
``.dist-info`` makes it visible to ``importlib.metadata``, and console
scripts are generated with installer. With ``memberPath`` (the package's
directory relative to the project) the ``.pth`` looks the import root up at
interpreter start below ``$P2N_PROJECT_ROOT`` (the working tree, exported by
the dev shell), so edits take effect without a rebuild; without it the store
copy ``src`` is used.
Inputs: ``src``, ``importRoot``, ``memberPath``, ``pname``, ``version``,
``scriptsJSON``, ``installer``, ``interpreter``, ``sitePackages``.
"""

import json
import os
import sys

sys.path.insert(0, os.environ["installer"])

from installer.scripts import Script

out = os.environ["out"]
name = os.environ["pname"]
version = os.environ["version"]
site_packages = os.path.join(out, os.environ["sitePackages"])
os.makedirs(site_packages)
dist = name.replace("-", "_")
with open(os.path.join(site_packages, f"_p2n_{dist}.pth"), "w") as pth:
    if os.environ.get("memberPath"):
        # Editable (the dev shell): the working tree found at shell start. The source is
        # not an input, so editing it never rebuilds this derivation.
        member_path = os.environ["memberPath"]
        relative = os.path.normpath(os.path.join(member_path, os.environ["importRoot"]))
        pth.write(
            "import os, sys; p2n_root = os.environ.get('P2N_PROJECT_ROOT'); "
            f"p2n_root and sys.path.append(os.path.join(p2n_root, {relative!r}))\n"
        )
    else:
        import_root = os.path.normpath(os.path.join(os.environ["src"], os.environ["importRoot"]))
        pth.write(import_root + "\n")

scripts = json.loads(os.environ["scriptsJSON"])
info = os.path.join(site_packages, f"{dist}-{version}.dist-info")
os.makedirs(info)
with open(os.path.join(info, "METADATA"), "w") as metadata:
    metadata.write(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
with open(os.path.join(info, "INSTALLER"), "w") as installer_file:
    installer_file.write("p2n\n")
if scripts:
    with open(os.path.join(info, "entry_points.txt"), "w") as entry_points:
        entry_points.write("[console_scripts]\n")
        for script, target in sorted(scripts.items()):
            entry_points.write(f"{script} = {target}\n")
    os.makedirs(os.path.join(out, "bin"))
for script, target in sorted(scripts.items()):
    module, _, attr = target.partition(":")
    filename, data = Script(script, module, attr, "console").generate(
        os.environ["interpreter"], "posix"
    )
    path = os.path.join(out, "bin", filename)
    with open(path, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o755)
