"""Render a :class:`VerifyReport`: a table for people, JSON and JUnit XML for CI.

The JSON schema is documented in docs/verify.md (``"schema": "p2n.verify/1"``);
change both together. Output is stable: derivations in dependency order,
sorted keys, no absolute paths except store paths and the kept work directory.
"""

from __future__ import annotations

import json
import os
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import OutputError
from .model import DerivationResult, Failure, Origin, Status, VerifyReport
from .perturb import FIXED_BY_NIX

SCHEMA = "p2n.verify/1"
WHY_LINES = 12  # lines of explanation per differing derivation in the table
RUN_NAMES = {
    "a": "A",
    "b": "B",
    "check": "the rebuild check",
    "fetch": "the fetch",
    "variant": "the variant (environment, umask)",
}


def verdict_text(report: VerifyReport) -> str:
    total = len(report.results)
    if report.reproducible:
        return f"reproducible: all {total} derivations are bit-identical"
    parts = []
    if report.count(Status.DIFFERS):
        parts.append(f"{report.count(Status.DIFFERS)} differ")
    if report.count(Status.FAILED):
        parts.append(f"{report.count(Status.FAILED)} failed to build")
    return f"NOT reproducible: {' and '.join(parts)} of {total} derivations"


def _short(drv_path: str, report: VerifyReport) -> str:
    """A derivation's name, as in the table (name of the drv whose path it is)."""
    for result in report.results:
        if result.derivation.drv_path == drv_path:
            return result.derivation.name
    base = drv_path.rsplit("/", 1)[-1].removesuffix(".drv")
    return base.split("-", 1)[-1]


def _file_list(result: DerivationResult, limit: int = 4) -> str:
    names = sorted({difference.display_path for difference in result.files})
    more = len(names) - limit + result.files_truncated
    text = ", ".join(names[:limit])
    return f"{text}, +{more} more" if more > 0 else text


def _failure_text(failure: Failure, report: VerifyReport) -> str:
    run = RUN_NAMES.get(failure.run, failure.run)
    if failure.reason == "dependency":
        names = ", ".join(_short(path, report) for path in failure.dependencies)
        return f"not built in {run}: dependency {names} failed"
    return f"failed to build in {run}"


def detail_text(result: DerivationResult, report: VerifyReport) -> str:
    """The one-line detail of a table row."""
    if result.status is Status.FAILED:
        return "; ".join(_failure_text(failure, report) for failure in result.failures)
    if result.status is Status.REPRODUCIBLE:
        return ""
    files = _file_list(result)
    if result.found_by:
        cause = f"own, in the {result.found_by} variant (identical in A and B)"
    elif result.origin is Origin.OWN:
        cause = "own"
    else:
        names = ", ".join(_short(path, report) for path in result.inherited_from)
        cause = (
            f"inherited from {names}"
            if result.origin is Origin.INHERITED
            else (f"inputs differ ({names}); own part unknown")
        )
    return f"{cause}: {files}" if files else cause


def render_table(report: VerifyReport) -> str:
    """The human summary: one row per derivation, why things differ, the verdict."""
    mode = "same store, --check" if report.mode == "same-store" else "separate stores"
    perturbed = ", ".join(
        f"{p.name} {p.value_a} → {p.value_b}" for p in report.perturbations if p.name != "clock"
    )
    lines = [
        f"p2n verify {report.installable} ({mode}; second build later"
        + (f", {perturbed}" if perturbed else ", no other perturbation")
        + ")",
    ]
    fixed = [item.name for item in report.not_perturbed if item.name in FIXED_BY_NIX]
    lines += [
        f"  not varied: {item.name}: {item.reason}"
        for item in report.not_perturbed
        if item.name not in FIXED_BY_NIX
    ]
    if fixed:
        lines.append(f"  fixed by Nix for every build: {', '.join(fixed)}")
    lines.append("")
    rows = [("STATUS", "DERIVATION", "DETAIL")]
    rows += [
        (result.status.value, result.derivation.name, detail_text(result, report))
        for result in report.results
    ]
    rows += [
        ("fixed-output", d.name, "hash-checked by Nix, fetched once") for d in report.fixed_outputs
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    for status, name, detail in rows:
        lines.append(f"  {status:<{widths[0]}}  {name:<{widths[1]}}  {detail}".rstrip())
    why = [line for result in report.results for line in _why(result, report)]
    if why:
        lines += ["", "Why:", *why]
    if report.kept and report.mode == "same-store":
        where = f"rebuilt copies next to the outputs in {report.store_a} as <output>.check"
        lines += ["", f"kept: {report.kept} ({where})"]
    elif report.kept:
        lines += ["", f"kept: {report.kept} (store A: {report.store_a}, store B: {report.store_b})"]
    lines += ["", f"verdict: {verdict_text(report)}"]
    return "\n".join(lines) + "\n"


def _why(result: DerivationResult, report: VerifyReport) -> list[str]:
    if result.status is Status.FAILED:
        if all(failure.reason == "dependency" for failure in result.failures):
            return []  # the table row names the dependency; its own entry says why
        lines = [f"  {result.derivation.name}: {detail_text(result, report)}"]
        for failure in result.failures:
            lines += [f"    | {line}" for line in failure.log_tail.splitlines()[-WHY_LINES:]]
        return lines
    if result.status is not Status.DIFFERS or result.origin is Origin.INHERITED:
        return []
    lines = [f"  {result.derivation.name} ({result.derivation.drv_path}):"]
    if result.diffoscope:
        body = result.diffoscope.splitlines()
        lines += [f"    {line}" for line in body[:WHY_LINES]]
        if len(body) > WHY_LINES:
            lines.append(f"    … {len(body) - WHY_LINES} more lines of diffoscope (see --json)")
        return lines
    budget = WHY_LINES
    for difference in result.files:
        detail = difference.detail.splitlines()
        lines.append(f"    {difference.display_path}: {difference.change}, {difference.kind}")
        lines += [f"      {line}" for line in detail[: max(0, budget)]]
        budget -= len(detail) + 1
        if budget <= 0:
            break
    return lines


def to_json_data(report: VerifyReport) -> dict[str, Any]:
    """The report as the documented JSON object (schema p2n.verify/1)."""
    return {
        "schema": SCHEMA,
        "verdict": "reproducible" if report.reproducible else "not-reproducible",
        "installable": report.installable,
        "derivation": report.top,
        "mode": report.mode,
        "stores": {"a": report.store_a, "b": report.store_b},
        "kept": report.kept,
        "perturbations": [
            {"name": p.name, "a": p.value_a, "b": p.value_b, "how": p.how}
            for p in report.perturbations
        ],
        "not_perturbed": [{"name": p.name, "reason": p.reason} for p in report.not_perturbed],
        "summary": {
            "derivations": len(report.results),
            "reproducible": report.count(Status.REPRODUCIBLE),
            "differs": report.count(Status.DIFFERS),
            "failed": report.count(Status.FAILED),
            "fixed_outputs": len(report.fixed_outputs),
        },
        "derivations": [_result_data(result) for result in report.results],
        "fixed_outputs": [
            {
                "name": d.name,
                "drv": d.drv_path,
                "outputs": [{"name": name, "path": path} for name, path in d.outputs],
            }
            for d in report.fixed_outputs
        ],
        "timings_seconds": dict(sorted(report.timings.items())),
    }


def _result_data(result: DerivationResult) -> dict[str, Any]:
    return {
        "name": result.derivation.name,
        "drv": result.derivation.drv_path,
        "status": result.status.value,
        "origin": result.origin.value if result.origin else None,
        "differing_inputs": list(result.differing_inputs),
        "inherited_from": list(result.inherited_from),
        "outputs": [
            {
                "name": output.name,
                "path": output.path,
                "nar_hash_a": output.nar_hash_a,
                "nar_hash_b": output.nar_hash_b,
                "nar_size_a": output.nar_size_a,
                "nar_size_b": output.nar_size_b,
            }
            for output in result.outputs
        ],
        "failures": [
            {
                "run": failure.run,
                "reason": failure.reason,
                "dependencies": list(failure.dependencies),
                "log_tail": failure.log_tail,
            }
            for failure in result.failures
        ],
        "files": [
            {
                "output": difference.output,
                "path": difference.path,
                "change": difference.change,
                "kind": difference.kind,
                "detail": difference.detail,
            }
            for difference in result.files
        ],
        "files_truncated": result.files_truncated,
        "diffoscope": result.diffoscope,
        "build_seconds": dict(result.build_seconds),
        "found_by": result.found_by,
    }


def render_json(report: VerifyReport) -> str:
    return json.dumps(to_json_data(report), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_junit(report: VerifyReport) -> str:
    """JUnit XML: one test case per derivation; differs and failed are failures."""
    names = Counter(result.derivation.name for result in report.results)
    failures = report.count(Status.DIFFERS) + report.count(Status.FAILED)
    suite = ET.Element(
        "testsuite",
        {
            "name": f"p2n verify {report.installable}",
            "tests": str(len(report.results)),
            "failures": str(failures),
            "errors": "0",
            "skipped": "0",
            "time": f"{report.timings.get('total', 0.0):.3f}",
        },
    )
    properties = ET.SubElement(suite, "properties")
    for key, value in (
        [
            ("mode", report.mode),
            ("derivation", report.top),
            ("store_a", report.store_a),
            ("store_b", report.store_b),
        ]
        + [(f"perturbation.{p.name}", f"{p.value_a} -> {p.value_b}") for p in report.perturbations]
        + [(f"not_perturbed.{p.name}", p.reason) for p in report.not_perturbed]
    ):
        ET.SubElement(properties, "property", {"name": key, "value": value})
    for result in report.results:
        name = result.derivation.name
        if names[name] > 1:
            name = f"{name} ({result.derivation.drv_path})"
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": "p2n.verify", "name": name, "file": result.derivation.drv_path},
        )
        if result.status is Status.REPRODUCIBLE:
            continue
        detail = detail_text(result, report)
        failure = ET.SubElement(
            case,
            "failure",
            {"type": result.status.value, "message": f"{result.status.value}: {detail}"},
        )
        failure.text = _junit_body(result)
    suites = ET.Element("testsuites", {"tests": suite.get("tests", "0"), "failures": str(failures)})
    suites.append(suite)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _junit_body(result: DerivationResult) -> str:
    if result.status is Status.FAILED:
        return "\n\n".join(failure.log_tail for failure in result.failures if failure.log_tail)
    parts = [
        f"{d.display_path} ({d.output}): {d.change}, {d.kind}\n{d.detail}" for d in result.files
    ]
    if result.diffoscope:
        parts.append("diffoscope:\n" + result.diffoscope)
    return "\n\n".join(parts)


def check_writable(path: Path) -> None:
    """Fail before a long run, not after it, when a report file cannot be written there."""
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(handle)
        os.unlink(temporary)
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error.strerror}; check the directory") from error


def write_atomically(path: Path, text: str) -> None:
    """Write a report file whole or not at all (temp file + rename)."""
    temporary: str | None = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except OSError as error:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
        raise OutputError(f"cannot write {path}: {error.strerror}; check the directory") from error
