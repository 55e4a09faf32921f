"""Filling in what a lock leaves out, from the packages' indexes, for chosen files only.

Runs between selection and rendering: ``resolve_urls`` gives every chosen
file (wheel or sdist) without a URL (poetry.lock) the URL its index lists, after checking
that the index's sha256 equals the lock's. Files the lock has no sha256 for
(md5-only, or none) are refused unless the user trusts the index's hashes.
``fill_missing_files`` handles locks that name no files at all for a package
(old poetry.lock 1.1), before selection, for the packages some target needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar, cast

from packaging.utils import parse_wheel_filename
from packaging.version import Version

from ..errors import HashMismatchError, IndexQueryError, InputError
from ..model import Artifact, Lock, LockedPackage, SourceKind, Wheel
from ..select import SelectedPackage, Selection
from .client import IndexClient, display_url
from .versions import VersionRequest, shortened

_A = TypeVar("_A", bound=Artifact)


@dataclass(frozen=True)
class Resolution:
    """Selections whose chosen files all have URLs, and what came from where."""

    selections: tuple[Selection, ...]
    resolved: int
    """Distinct files whose URL (or hash) the indexes gave."""
    trusted: tuple[str, ...] = ()
    """``name version: filename`` of files whose sha256 came from the index, not the lock."""


def _label(package: LockedPackage) -> str:
    return f"{package.name} {package.version}"


def fill_missing_files(
    lock: Lock, needed: Iterable[LockedPackage], client: IndexClient, trust_index_hashes: bool
) -> tuple[Lock, tuple[str, ...]]:
    """Give index packages that some target needs but the lock lists no files for their files.

    A package pinned by hashes alone (requirements.txt, Pipfile.lock) gets the
    index's files of its version whose sha256 the lock lists. Others are
    refused (before any request) unless ``trust_index_hashes``: the hashes
    then come from the index alone.
    """
    empty = sorted(
        {
            id(p): p
            for p in needed
            if p.source.kind is SourceKind.REGISTRY and not p.wheels and p.sdist is None
        }.values(),
        key=_label,
    )
    if not empty:
        return lock, ()
    unpinned = [p for p in empty if not p.pinned_sha256]
    if unpinned and not trust_index_hashes:
        raise InputError(
            f"{lock.path}: the lock lists no files, so no hashes, for "
            f"{shortened([_label(p) for p in unpinned])}; re-lock with a current tool to record "
            "them, or pass --trust-index-hashes to take files and sha256 from the index"
        )
    requests = [VersionRequest(p.source.location, p.name, p.version) for p in empty]
    found_files = client.version_files(requests)
    replaced: dict[int, LockedPackage] = {}
    trusted: list[str] = []
    for package in empty:
        request = VersionRequest(package.source.location, package.name, package.version)
        files = sorted(found_files[request.key].values(), key=lambda f: f.filename)
        if package.pinned_sha256:
            files = [f for f in files if f.sha256 in package.pinned_sha256]
        wheels = []
        sdist: Artifact | None = None
        for found in files:
            if not found.sha256:
                continue
            if found.filename.endswith(".whl"):
                tags = parse_wheel_filename(found.filename)[3]
                wheels.append(Wheel(found.url, found.sha256, found.filename, tags=tags))
            elif sdist is None:
                sdist = Artifact(found.url, found.sha256, found.filename)
        if not wheels and sdist is None and package.pinned_sha256:
            raise IndexQueryError(
                f"{lock.path}: index {display_url(package.source.location)} lists no file of "
                f"{_label(package)} with a sha256 the lock pins; was it deleted, or locked "
                "against another index? Re-lock"
            )
        if not wheels and sdist is None:
            raise IndexQueryError(
                f"{lock.path}: index {display_url(package.source.location)} lists no file "
                f"with a sha256 for {_label(package)}; re-lock against an index that has it"
            )
        replaced[id(package)] = replace(package, wheels=tuple(wheels), sdist=sdist)
        if not package.pinned_sha256:
            trusted.append(f"{_label(package)}: every file (the lock lists none)")
    packages = tuple(replaced.get(id(p), p) for p in lock.packages)
    return replace(lock, packages=packages), tuple(trusted)


def resolve_urls(
    lock: Lock,
    selections: Sequence[Selection],
    client: IndexClient,
    trust_index_hashes: bool,
) -> Resolution:
    """Every chosen file (wheel or sdist) with a URL and a sha256, checked against the index."""
    # Keyed by the package object (selections share them) and file name: a package's
    # ``key`` is a string built on every call, and a lock has thousands of files.
    wanted: dict[tuple[int, str], tuple[LockedPackage, Artifact]] = {}
    for selection in selections:
        for selected in selection.packages:
            for artifact in (selected.wheel, selected.sdist):
                if artifact is None or (artifact.url and artifact.sha256):
                    continue
                if selected.package.source.kind is not SourceKind.REGISTRY:
                    continue  # not an index package: check_selection names what is missing
                wanted[(id(selected.package), artifact.filename)] = (selected.package, artifact)
    if not wanted:
        return Resolution(tuple(selections), 0)
    hashless = sorted({f"{p.name}: {a.filename}" for p, a in wanted.values() if not a.sha256})
    if hashless and not trust_index_hashes:
        raise InputError(
            f"{lock.path}: package {hashless[0]} has no sha256 hash in the lock (md5 or none)"
            f"{' (also: ' + shortened(hashless[1:]) + ')' if len(hashless) > 1 else ''}; "
            "re-lock with a current tool to record sha256 hashes, or pass "
            "--trust-index-hashes to take them from the index"
        )
    by_version: dict[tuple[str, str, Version | None], dict[str, str]] = {}
    for package, artifact in wanted.values():
        index_version = (package.source.location, package.name, package.version)
        by_version.setdefault(index_version, {}).setdefault(artifact.filename, artifact.sha256)
    requests = {
        index_version: VersionRequest(*index_version, files)
        for index_version, files in by_version.items()
    }
    found_files = client.version_files(list(requests.values()))
    new_files: dict[tuple[int, str], Artifact] = {}
    trusted: list[str] = []
    in_order = sorted(
        wanted.items(),
        key=lambda item: (_label(item[1][0]), item[1][0].source.location, item[0][1]),
    )
    for key, (package, artifact) in in_order:
        index = package.source.location
        request = requests[(index, package.name, package.version)]
        found = found_files[request.key].get(artifact.filename)
        if found is None:
            raise IndexQueryError(
                f"{lock.path}: package {_label(package)}: index {display_url(index)} does not "
                f"list {artifact.filename}; was it deleted from the index? Re-lock"
            )
        if artifact.sha256 and found.sha256 and artifact.sha256 != found.sha256:
            raise HashMismatchError(
                f"{lock.path}: package {_label(package)}: {artifact.filename} has sha256 "
                f"{artifact.sha256} in the lock but {found.sha256} on {display_url(index)}; "
                "the file changed on the index or the lock is damaged: find out which, "
                "then re-lock"
            )
        sha256 = artifact.sha256
        if not sha256:
            if not found.sha256:
                raise IndexQueryError(
                    f"{lock.path}: package {_label(package)}: neither the lock nor index "
                    f"{display_url(index)} gives a sha256 for {artifact.filename}; re-lock "
                    "against an index that publishes sha256 hashes"
                )
            sha256 = found.sha256
            trusted.append(f"{_label(package)}: {artifact.filename}")
        new_files[key] = replace(artifact, url=artifact.url or found.url, sha256=sha256)

    def completed(artifact: _A | None, package: LockedPackage) -> _A | None:
        if artifact is None:
            return None
        found = new_files.get((id(package), artifact.filename))
        return artifact if found is None else cast(_A, found)

    def with_files(selected: SelectedPackage) -> SelectedPackage:
        wheel = completed(selected.wheel, selected.package)
        sdist = completed(selected.sdist, selected.package)
        if wheel is selected.wheel and sdist is selected.sdist:
            return selected
        return replace(selected, wheel=wheel, sdist=sdist)

    selections = tuple(
        replace(selection, packages=tuple(with_files(s) for s in selection.packages))
        for selection in selections
    )
    return Resolution(selections, len(new_files), tuple(trusted))
