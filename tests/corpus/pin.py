"""Pin the corpus's sdists: ``python -m tests.corpus.pin`` writes sdists.toml.

For every ``name==version`` in projects.toml it asks PyPI's simple API (PEP 691)
for the sdist's file name, URL, sha256 and upload time. Pins already in
sdists.toml are kept as they are (a pin changes only by deleting it); pins
no project uses any more are dropped.
"""

from __future__ import annotations

import json
import tomllib
import urllib.request

from packaging.utils import canonicalize_name, parse_sdist_filename
from packaging.version import Version

from tests.corpus.corpus import PROJECTS_FILE, SDISTS_FILE

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def pin(name: str, version: str) -> dict[str, str]:
    """The sdist of ``name`` ``version`` on PyPI."""
    request = urllib.request.Request(
        f"https://pypi.org/simple/{canonicalize_name(name)}/", headers={"Accept": JSON_TYPE}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)["files"]
    for entry in files:
        filename = entry["filename"]
        if not filename.endswith((".tar.gz", ".zip")):
            continue
        if parse_sdist_filename(filename)[1] == Version(version):
            return {
                "filename": filename,
                "url": entry["url"],
                "sha256": entry["hashes"]["sha256"],
                "uploaded": entry["upload-time"],
            }
    raise SystemExit(f"{name}=={version}: no sdist on PyPI")


def main() -> None:
    known = tomllib.loads(SDISTS_FILE.read_text()) if SDISTS_FILE.exists() else {}
    pins = {}
    for project in tomllib.loads(PROJECTS_FILE.read_text())["project"]:
        for spec in project.get("sdists", []):
            name, _, rest = spec.partition("==")
            version = rest.partition(" at ")[0]
            key = f"{name}=={version}"
            pins[key] = known[key] if key in known else pin(name, version)
    lines = ["# The corpus's sdists on PyPI, written by `python -m tests.corpus.pin`.", ""]
    for key in sorted(pins):
        lines.append(f'["{key}"]')
        lines.extend(f"{field} = {json.dumps(value)}" for field, value in pins[key].items())
        lines.append("")
    SDISTS_FILE.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
