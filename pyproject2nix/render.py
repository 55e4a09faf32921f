"""The renderer: a selection per system becomes ``flake.nix`` and ``p2n/``.

Output is a mapping of relative path -> bytes, computed without touching the
disk, so it can be compared (``p2n check``), tested as golden files, and
written all at once. Everything is sorted; nothing depends on the machine,
the time or the directory p2n ran in.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from packaging.utils import NormalizedName

from . import __version__
from .buildlock import BUILD_LOCK_FILE
from .layout import ENTRY_FILE, GENERATED_MARK, INPUTS_FILE, LIB_DIR, OUTPUT_DIR, library_dir
from .model import Artifact, SourceKind
from .nixexpr import NixValue, comment, render, string
from .overrides import Overrides
from .project import LocalProject
from .request import LeftOut
from .select import SelectedPackage, Selection
from .settings import Settings
from .sourcebuild import SourceBuild, SourceBuilds

FORMAT = 2
"""The version of the data format of ``p2n/lock.nix`` (docs/format-2.md)."""


@dataclass(frozen=True)
class LocalMember:
    """A project package installed from local source, and where it lives."""

    path: str
    """Relative to the flake's root, POSIX separators ("." for the project itself)."""
    project: LocalProject


@dataclass(frozen=True)
class RenderInput:
    """Everything the renderer needs; gathered by ``generate``."""

    project: str
    lock_file: str
    python_attr: str
    selections: tuple[Selection, ...]
    members: Mapping[str, LocalMember]
    input_digests: Mapping[str, str]
    root_scripts: tuple[str, ...]
    settings: Settings
    """The generate options, recorded for ``p2n check``."""
    overrides: Overrides = field(default_factory=Overrides)
    notes: tuple[str, ...] = ()
    """Comment lines for p2n/lock.nix (e.g. hashes that came from an index, not the lock)."""
    source_builds: SourceBuilds = field(
        default_factory=lambda: SourceBuilds(builds={}, environments={})
    )
    build_lock: bytes | None = None
    """``p2n/build-systems.toml`` (None: nothing is built from source)."""
    versions: Mapping[str, str] = field(default_factory=dict)
    """Versions of local packages their build backend computed (dynamic, from git), by name."""
    left_out: tuple[LeftOut, ...] = ()
    """Systems not generated although p2n knows them, and why (a comment in p2n/lock.nix)."""


def header(what: str, lock_file: str) -> str:
    """The first lines of every generated file (``p2n check`` relies on the mark)."""
    return (
        f"{GENERATED_MARK} {__version__} from {comment(lock_file)}: {what}.\n"
        "# Do not edit: run `p2n generate` to update.\n"
    )


def _entry(
    selected: SelectedPackage,
    members: Mapping[str, LocalMember],
    overrides: Overrides,
    elf: bool,
    build: SourceBuild | None,
    computed_version: str | None = None,
) -> dict[str, NixValue]:
    """One package's data on one system; ``elf``: the target's native code is ELF (Linux).

    ``computed_version``: what the package's backend reported at generate time.
    Files are named by their file name; ``files`` holds each one's URL (or path) and hash.
    """
    package = selected.package
    locked = str(package.version) if package.version is not None else None
    version = computed_version or locked or "0"
    entry: dict[str, NixValue] = {"version": version}
    files: dict[str, NixValue] = {}
    if build is not None and (computed_version or (locked and package.name not in members)):
        # A build without .git: the version plugins (setuptools-scm, hatch-vcs,
        # *-dynamic-versioning, pdm-backend's scm source) take it from the environment.
        entry["pretendVersion"] = version
    if build is not None and package.name not in members:
        entry.update(_source_build(selected, overrides, elf, build, files))
    elif selected.wheel is not None:
        entry["wheel"] = _file(selected, selected.wheel, files)
        if elf and any(tag.platform != "any" for tag in selected.wheel.tags):
            # Native code: its ELF files get a RUNPATH to these nixpkgs packages.
            entry["libraries"] = list(overrides.libraries_for(package.name))
    else:
        member = members[package.name]
        entry["local"] = {
            "path": member.path,
            "importRoot": member.project.import_root,
            "scripts": dict(member.project.scripts),
        }
        if build is not None:
            entry.update(_source_build(selected, overrides, elf, build, files))
    entry["deps"] = list(selected.dependencies)
    if files:
        entry[_FILES] = files
    return entry


_FILES = "files"
_ABSENT = object()


def sri(sha256_hex: str) -> str:
    """A hex sha256 as a Subresource Integrity hash (``sha256-<base64>``), as Nix writes them."""
    return "sha256-" + base64.b64encode(bytes.fromhex(sha256_hex)).decode()


def _file(selected: SelectedPackage, artifact: Artifact, files: dict[str, NixValue]) -> str:
    """Record a wheel or sdist in ``files`` (fetched by URL, or a file of the project's tree)."""
    where = "path" if selected.package.source.kind is SourceKind.PATH else "url"
    files[artifact.filename] = {where: artifact.url, "hash": sri(artifact.sha256)}
    return artifact.filename


def _source_build(
    selected: SelectedPackage,
    overrides: Overrides,
    elf: bool,
    build: SourceBuild,
    files: dict[str, NixValue],
) -> dict[str, NixValue]:
    """Data of a package built from an sdist or a git checkout (its overrides: a layer apart)."""
    entry: dict[str, NixValue] = {}
    if selected.sdist is not None:
        entry["sdist"] = _file(selected, selected.sdist, files)
        if selected.package.source.subdirectory:
            entry["subdirectory"] = selected.package.source.subdirectory
    elif build.git is not None:
        git: dict[str, NixValue] = {
            "url": build.git.url,
            "rev": build.git.rev,
            "narHash": build.nar_hash or "",
        }
        if build.git.subdirectory:
            git["subdirectory"] = build.git.subdirectory
        entry["git"] = git
    entry["build"] = {
        "requires": build.requires_key,
        "backend": build.build_system.backend,
        "backendPath": list(build.build_system.backend_path),
    }
    own = overrides.package(selected.name)
    if elf and (own.uses_stdenv or own.libraries or build.native_requirements):
        entry["libraries"] = list(overrides.libraries_for(selected.name))
    return entry


def _override_layer(
    data: RenderInput, built_from_source: set[NormalizedName]
) -> dict[str, NixValue]:
    """``[tool.p2n.packages]`` of packages built from source: the first overlay in Nix."""
    layer: dict[str, NixValue] = {}
    for name in sorted(built_from_source):
        own = data.overrides.package(name)
        attrs: dict[str, NixValue] = {}
        if own.uses_stdenv:
            attrs["stdenv"] = True
            attrs["buildInputs"] = list(own.build_inputs)
            attrs["nativeBuildInputs"] = list(own.native_build_inputs)
        if own.env:
            attrs["env"] = dict(own.env)
        if own.patches:
            attrs["patches"] = list(own.patches)
        if attrs:
            layer[name] = attrs
    return layer


def _same(value: object) -> str:
    """A key to compare rendered values by (dicts keep their order, as rendered)."""
    return "\0" if value is _ABSENT else json.dumps(value)


def fold_systems(by_system: Mapping[str, Mapping[str, NixValue]]) -> dict[str, NixValue]:
    """One entry from its per-system values: what most systems share, then what differs.

    Each key takes the value most systems have (a tie: the first system's, by
    name); ``perSystem.<system>`` holds only the keys whose value differs there
    (``null``: the key is absent there). ``files`` is the union, never per system.
    """
    systems = sorted(by_system)
    keys: list[str] = []
    for system in systems:
        keys.extend(k for k in by_system[system] if k not in keys and k != _FILES)
    common: dict[str, NixValue] = {}
    differs: dict[str, dict[str, NixValue]] = {}
    for key in keys:
        values = [by_system[system].get(key, _ABSENT) for system in systems]
        compared = [_same(value) for value in values]  # each value serialised once
        counts: dict[str, int] = {}
        for text in compared:
            counts[text] = counts.get(text, 0) + 1
        # max keeps the first of a tie
        best = max(range(len(values)), key=lambda i: counts[compared[i]])
        chosen = values[best]
        if chosen is not _ABSENT:
            common[key] = chosen  # type: ignore[assignment]
        for system, value, text in zip(systems, values, compared, strict=True):
            if text != compared[best]:
                differs.setdefault(system, {})[key] = None if value is _ABSENT else value  # type: ignore[assignment]
    files: dict[str, NixValue] = {}
    for system in systems:
        own = by_system[system].get(_FILES)
        if isinstance(own, Mapping):
            files.update(own)
    if files:
        common[_FILES] = dict(sorted(files.items()))
    if differs:
        common["perSystem"] = dict(differs)
    return common


def _package_table(
    data: RenderInput, systems: list[str]
) -> tuple[dict[str, NixValue], set[NormalizedName]]:
    """Every package once, by name, with what differs per system; and those built from source."""
    builds = data.source_builds.builds
    by_name: dict[str, dict[str, dict[str, NixValue]]] = {}
    from_source: set[NormalizedName] = set()
    for selection in data.selections:
        system = selection.target.system.nix_system
        elf = selection.target.system.sys_platform == "linux"
        for p in selection.packages:
            build = builds.get((system, p.name))
            if p.wheel is None and p.name not in data.members and build is None:
                continue
            if build is not None:
                from_source.add(p.name)
            by_name.setdefault(p.name, {})[system] = _entry(
                p, data.members, data.overrides, elf, build, data.versions.get(p.name)
            )
    table: dict[str, NixValue] = {}
    for name in sorted(by_name):
        entry = fold_systems(by_name[name])
        present = sorted(by_name[name])
        if present != systems:
            entry["onlySystems"] = list(present)
        table[name] = entry
    return table, from_source


def _build_system_table(data: RenderInput) -> dict[str, NixValue]:
    """Build environments (pinned wheels of build requirements) once, by key."""
    by_key: dict[str, dict[str, dict[str, NixValue]]] = {}
    for system, environments in data.source_builds.environments.items():
        for key, wheels in environments.items():
            by_key.setdefault(key, {})[system] = {
                "wheels": [w.filename for w in wheels],
                _FILES: {w.filename: {"url": w.url, "hash": sri(w.sha256)} for w in wheels},
            }
    return {key: fold_systems(by_key[key]) for key in sorted(by_key)}


def lock_data(data: RenderInput) -> str:
    """The text of ``p2n/lock.nix`` (format 2): every package once, per system what differs."""
    systems = sorted(s.target.system.nix_system for s in data.selections)
    packages, from_source = _package_table(data, systems)
    value: dict[str, NixValue] = {
        "format": FORMAT,
        "project": data.project,
        "python": data.python_attr,
        "scripts": list(data.root_scripts),
        "systems": list(systems),
    }
    if data.left_out:
        value["leftOut"] = {left.system: left.reason for left in data.left_out}
    value["packages"] = packages
    overrides = _override_layer(data, from_source)
    if overrides:
        value["overrides"] = overrides
    if data.source_builds.environments:
        value["buildSystems"] = _build_system_table(data)
    record = data.settings.header_line()
    notes = "".join(f"# {comment(line)}\n" for line in (*data.notes, *_left_out(data)))
    return (
        header("every locked package once, per system what differs", data.lock_file)
        + record
        + notes
        + render(value)
        + "\n"
    )


def inputs_data(data: RenderInput) -> str:
    """The text of ``p2n/inputs.json``: the sha256 of each input, for ``p2n check``'s reasons.

    Kept out of lock.nix: a bumped lock changes its digest, and the lock data
    should change in one place only (the package's entry).
    """
    return json.dumps(dict(data.input_digests), sort_keys=True, indent=0) + "\n"


def _left_out(data: RenderInput) -> list[str]:
    """Comment lines naming each system left out and why, for reviewers."""
    if not data.left_out:
        return []
    lines = ["Systems left out of this flake, and why:"]
    for left in data.left_out:
        warning = "WARNING: " if left.missing_files else ""
        lines.append(f"  {warning}{left.system}: {left.reason}")
    return lines


FLAKE_MARK = "# Written by p2n"
"""First line of a ``flake.nix`` p2n wrote once and leaves to the user (``GENERATED_MARK``:
the older flakes p2n owned and rewrote, replaced by ``p2n generate``)."""

FLAKE_TEMPLATE = """\
{mark} {version} for {project}: the project's flake, yours to edit.
# `p2n generate` refreshes p2n/ and leaves this file alone (--force writes it again).
{{
  description = {description};

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    {{ self, nixpkgs }}:
    let
      outputsFor = builtins.listToAttrs (
        map (system: {{
          name = system;
          value = import ./p2n {{
            inherit system;
            pkgs = nixpkgs.legacyPackages.${{system}};
            # An overlay over the package set, e.g.
            # final: prev: {{
            #   foo = prev.foo.overrideAttrs (old: {{ patches = old.patches ++ [ ./foo.patch ]; }});
            # }}
            overrides = final: prev: {{ }};
          }};
        }}) (import ./p2n/lock.nix).systems
      );
      perSystem = f: builtins.mapAttrs (system: outputs: f outputs) outputsFor;
    in
    {{
      packages = perSystem (o: o.packages);
      legacyPackages = perSystem (o: o.pythonSet);
      devShells = perSystem (o: {{ default = o.devShell; }});
      apps = perSystem (o: o.apps);
      checks = perSystem (o: o.checks);
    }};
}}
"""

ENTRY_TEMPLATE = """\
{header}/**
  The project's Python outputs for one system, for any flake or Nix file:

    p2nOutputs = import ./p2n {{ pkgs = nixpkgs.legacyPackages.${{system}}; }};
    # p2nOutputs.packages.default: the environment; .devShell, .apps, .checks,
    # .pythonSet (the package set), .packages.<name> (a package with its closure)

  Arguments:
  - `pkgs`: nixpkgs for one system (`python3XY`, `mkShell`: docs/nixpkgs-contract.md);
  - `system`: default the system of `pkgs`' interpreter;
  - `overrides`: an overlay `final: prev: {{ … }}` over the package set, applied
    after the project's `[tool.p2n]` overrides (lib/package-set.nix).

  Returns `mkOutputs`' attribute set (lib/default.nix).
*/
{{
  pkgs,
  system ? pkgs.${{(import ./lock.nix).python}}.system,
  overrides ? final: prev: {{ }},
}}:
(import ./lib).mkOutputs {{
  inherit pkgs system overrides;
  lock = import ./lock.nix;
  root = ./..;
}}
"""


def flake(data: RenderInput) -> str:
    """The text of ``flake.nix`` (written when the project has none, or with ``--force``)."""
    return FLAKE_TEMPLATE.format(
        mark=FLAKE_MARK,
        version=__version__,
        project=comment(data.project),
        description=string(f"{data.project}: Python environment generated by pyproject2nix"),
    )


def entry_point(data: RenderInput) -> str:
    """The text of ``p2n/default.nix``: ``import ./p2n { inherit pkgs; }`` gives the outputs."""
    return ENTRY_TEMPLATE.format(header=header("the entry point", data.lock_file))


def library_files() -> dict[str, bytes]:
    """The Nix builder library shipped with p2n, by file name."""
    found = library_dir()
    return {
        path.name: path.read_bytes()
        for path in sorted(found.iterdir())
        if path.suffix in (".nix", ".py") and path.is_file()
    }


def render_files(data: RenderInput) -> dict[str, bytes]:
    """Every generated file, by path relative to the project directory."""
    files = {
        "flake.nix": flake(data).encode(),
        f"{OUTPUT_DIR}/lock.nix": lock_data(data).encode(),
        INPUTS_FILE: inputs_data(data).encode(),
        ENTRY_FILE: entry_point(data).encode(),
    }
    for name, content in library_files().items():
        files[f"{LIB_DIR}/{name}"] = content
    if data.build_lock is not None:
        files[f"{OUTPUT_DIR}/{BUILD_LOCK_FILE}"] = data.build_lock
    return dict(sorted(files.items()))
