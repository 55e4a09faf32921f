"""``--html FILE``: the whole verify report as one self-contained page.

For a reviewer looking at a failed CI run: the verdict, what the second build
varied, a row per derivation (status, own/inherited, output size, build
times) and, for each difference, the explanation — diffoscope's own HTML
page (in a sandboxed ``iframe srcdoc``, so its styles stay its own) when it
ran, else p2n's minimal diff. No network: styles and the one small script
are inline, nothing is fetched, the page works from a CI artifact or a file.
"""

from __future__ import annotations

import html
import json

from .model import DerivationResult, FileDifference, Origin, Status, VerifyReport
from .report import RUN_NAMES, detail_text, to_json_data, verdict_text

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 78rem; padding: 1.5rem;
  color: #1d232a; }
h1 { font-size: 1.4rem; margin: 0 0 .2rem; }
h2 { font-size: 1.1rem; margin: 1.8rem 0 .5rem; border-bottom: 1px solid #d8dee4; }
h3 { font-size: 1rem; margin: 1.2rem 0 .3rem; }
code, pre { font: 12.5px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; }
pre { background: #f6f8fa; border: 1px solid #d8dee4; padding: .6rem; overflow-x: auto;
  white-space: pre-wrap; word-break: break-all; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .55rem; border-bottom: 1px solid #e4e8ec;
  vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.verdict { display: inline-block; padding: .35rem .8rem; border-radius: .3rem; font-weight: 700;
  margin: .6rem 0; }
.verdict.reproducible { background: #dafbe1; color: #116329; }
.verdict.not-reproducible { background: #ffebe9; color: #a40e26; }
.status { font-weight: 600; white-space: nowrap; }
.status.reproducible { color: #116329; } .status.differs { color: #a40e26; }
.status.failed { color: #9a6700; } .status.fixed-output { color: #57606a; }
.muted { color: #57606a; }
iframe { width: 100%; height: 28rem; border: 1px solid #d8dee4; }
label { user-select: none; }
"""

# Hides reproducible rows on demand (also when opened as report.html#only-problems);
# the page reads fine without it.
SCRIPT = """
const onlyProblems = document.getElementById("only-problems");
function applyFilter() {
  for (const row of document.querySelectorAll("#derivations tbody tr")) {
    const quiet = ["reproducible", "fixed-output"].includes(row.dataset.status);
    row.hidden = onlyProblems.checked && quiet;
  }
}
onlyProblems.addEventListener("change", applyFilter);
if (location.hash === "#only-problems") { onlyProblems.checked = true; applyFilter(); }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def human_size(size: int | None) -> str:
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # unreachable: GiB ends the loop


def _seconds(result: DerivationResult, run: str) -> str:
    seconds = dict(result.build_seconds).get(run)
    if seconds is None:
        return "—"
    return "< 1 s" if seconds < 1 else f"{seconds:.0f} s"


def _origin(result: DerivationResult, report: VerifyReport) -> str:
    if result.status is not Status.DIFFERS:
        return ""
    if result.origin is Origin.OWN:
        return "own"
    return detail_text(result, report).split(":", 1)[0]


def _anchor(result: DerivationResult) -> str:
    return "why-" + result.derivation.drv_path.rsplit("/", 1)[-1].removesuffix(".drv")


def _row(result: DerivationResult, report: VerifyReport) -> str:
    status = result.status.value
    name = _e(result.derivation.name)
    if result.status is not Status.REPRODUCIBLE:
        name = f'<a href="#{_anchor(result)}">{name}</a>'
    files = sorted({difference.display_path for difference in result.files})
    shown = ", ".join(files[:6]) + (f", +{len(files) - 6} more" if len(files) > 6 else "")
    detail = shown if result.status is Status.DIFFERS else detail_text(result, report)
    return (
        f'<tr data-name="{_e(result.derivation.name)}" data-status="{status}" '
        f'data-origin="{_e(result.origin.value if result.origin else "")}">'
        f'<td class="status {status}">{status}</td>'
        f"<td>{name}<br><code class=muted>{_e(result.derivation.drv_path)}</code></td>"
        f"<td>{_e(_origin(result, report))}</td>"
        f'<td class="num">{human_size(result.nar_size)}</td>'
        f'<td class="num">{_seconds(result, "a")}</td>'
        f'<td class="num">{_seconds(result, "b")}</td>'
        f"<td>{_e(detail)}</td></tr>"
    )


def _file_block(difference: FileDifference) -> str:
    return (
        f"<h4><code>{_e(difference.display_path)}</code> "
        f'<span class="muted">({_e(difference.output)}: {_e(difference.change)}, '
        f"{_e(difference.kind)})</span></h4><pre>{_e(difference.detail)}</pre>"
    )


def _explanation(result: DerivationResult, report: VerifyReport) -> str:
    heading = (
        f'<section class="why" id="{_anchor(result)}" data-name="{_e(result.derivation.name)}" '
        f'data-status="{result.status.value}"><h3>{_e(result.derivation.name)} '
        f'<span class="status {result.status.value}">{result.status.value}</span></h3>'
        f"<p>{_e(detail_text(result, report))}</p>"
    )
    parts = [heading]
    if result.status is Status.FAILED:
        for failure in result.failures:
            run = RUN_NAMES.get(failure.run, failure.run)
            if failure.log_tail:
                parts.append(f"<p>Build log of {_e(run)} (last lines):</p>")
                parts.append(f"<pre>{_e(failure.log_tail)}</pre>")
        return "".join(parts) + "</section>"
    if result.diffoscope_html:
        for output, page in result.diffoscope_html:
            parts.append(f'<p class="source">diffoscope, output <code>{_e(output)}</code>:</p>')
            # srcdoc keeps diffoscope's page whole and its styles apart; sandbox: no scripts.
            parts.append(
                f'<iframe class="diffoscope" sandbox title="diffoscope: {_e(output)}" '
                f'srcdoc="{_e(page)}"></iframe>'
            )
    elif result.diffoscope:
        parts.append('<p class="source">diffoscope:</p>')
        parts.append(f"<pre>{_e(result.diffoscope)}</pre>")
    if result.files:
        parts.append('<p class="source">p2n\'s diff of the differing files:</p>')
        parts += [_file_block(difference) for difference in result.files]
        if result.files_truncated:
            parts.append(f"<p class=muted>… and {result.files_truncated} more files.</p>")
    return "".join(parts) + "</section>"


def render_html(report: VerifyReport) -> str:
    """The report as one HTML page (UTF-8, no external assets)."""
    verdict = "reproducible" if report.reproducible else "not-reproducible"
    data = to_json_data(report)
    summary = data["summary"]
    mode = "same store, nix-store --check" if report.mode == "same-store" else "separate stores"
    perturbation_rows = "".join(
        f"<tr><td><code>{_e(p.name)}</code></td><td>{_e(p.value_a)}</td><td>{_e(p.value_b)}</td>"
        f"<td>{_e(p.how)}</td></tr>"
        for p in report.perturbations
    )
    not_perturbed_rows = "".join(
        f'<tr class="not-perturbed"><td><code>{_e(p.name)}</code></td>'
        f'<td colspan="3" class="muted">not varied: {_e(p.reason)}</td></tr>'
        for p in report.not_perturbed
    )
    rows = "".join(_row(result, report) for result in report.results)
    rows += "".join(
        f'<tr data-name="{_e(d.name)}" data-status="fixed-output" data-origin="">'
        f'<td class="status fixed-output">fixed-output</td>'
        f"<td>{_e(d.name)}<br><code class=muted>{_e(d.drv_path)}</code></td><td></td>"
        f'<td class="num">—</td><td class="num">—</td><td class="num">—</td>'
        f"<td>hash-checked by Nix, fetched once</td></tr>"
        for d in report.fixed_outputs
    )
    explanations = "".join(
        _explanation(result, report)
        for result in report.results
        if result.status is Status.DIFFERS
        or (
            result.status is Status.FAILED
            and not all(f.reason == "dependency" for f in result.failures)
        )
    )
    timings = "".join(
        f'<tr><td>{_e(name)}</td><td class="num">{seconds:.1f} s</td></tr>'
        for name, seconds in sorted(report.timings.items())
    )
    counts = ", ".join(
        f"{summary[key]} {key.replace('_', ' ')}"
        for key in ("reproducible", "differs", "failed", "fixed_outputs")
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>p2n verify: {_e(verdict_text(report))}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>p2n verify <code>{_e(report.installable)}</code></h1>
<div id="verdict" class="verdict {verdict}" data-verdict="{verdict}">
{_e(verdict_text(report))}</div>
<table id="summary">
<tr><th>derivations</th><td data-key="derivations">{summary["derivations"]} ({_e(counts)})</td></tr>
<tr><th>top derivation</th><td><code>{_e(report.top)}</code></td></tr>
<tr><th>mode</th><td>{_e(mode)}</td></tr>
<tr><th>store A</th><td><code>{_e(report.store_a)}</code></td></tr>
<tr><th>store B</th><td><code>{_e(report.store_b)}</code></td></tr>
</table>
<h2>Derivations</h2>
<p><label><input type="checkbox" id="only-problems"> only what differs or failed</label></p>
<table id="derivations">
<thead><tr><th>status</th><th>derivation</th><th>own / inherited</th><th>output size</th>
<th>build A</th><th>build B</th><th>differing files / detail</th></tr></thead>
<tbody>{rows}</tbody>
</table>
<h2>Why</h2>
{explanations or '<p class="muted">Nothing differs: every output is bit-identical.</p>'}
<h2>What the second build varied</h2>
<table id="perturbations">
<thead><tr><th>name</th><th>build A</th><th>build B</th><th>how the builder sees it</th></tr>
</thead>
<tbody>{perturbation_rows}{not_perturbed_rows}</tbody>
</table>
<h2>Timings</h2>
<table id="timings">{timings}</table>
<script type="application/json" id="report-data">{_json_in_script(data)}</script>
<script>{SCRIPT}</script>
</body>
</html>
"""


def _json_in_script(data: object) -> str:
    """The JSON report, safe inside <script> (no "</" can close it)."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False).replace("</", "<\\/")
