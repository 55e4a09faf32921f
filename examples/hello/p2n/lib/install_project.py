"""Builder for a project's own local source (the project, workspace members).

Until sdist/PEP 517 builds land, a local project is installed the way an
editable install works: a ``.pth`` file puts its import root (a store copy
of the source) on ``sys.path``, a minimal ``.dist-info`` makes it visible to
``importlib.metadata``, and console scripts are generated with installer.
Inputs: ``src``, ``importRoot``, ``pname``, ``version``, ``scriptsJSON``,
``installerWheel``, ``interpreter``, ``sitePackages``.
"""

import json
import os
import sys

sys.path.insert(0, os.environ["installerWheel"])

from installer.scripts import Script  # noqa: E402

out = os.environ["out"]
name = os.environ["pname"]
version = os.environ["version"]
site_packages = os.path.join(out, os.environ["sitePackages"])
os.makedirs(site_packages)
dist = name.replace("-", "_")
import_root = os.path.normpath(os.path.join(os.environ["src"], os.environ["importRoot"]))
with open(os.path.join(site_packages, f"_p2n_{dist}.pth"), "w") as pth:
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
