"""``p2n verify``: the click command. Parses options, prints, writes report files.

The work is in :mod:`pyproject2nix.verify.core`; exit codes follow cli.py
(0 reproducible, 1 differs or failed to build, 2 bad input or usage).
"""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import InputError
from .core import NotReproducible, VerifyOptions, verify
from .page import render_html
from .perturb import NAMES as PERTURBATIONS
from .perturb import parse_names as parse_perturbations
from .report import (
    check_writable,
    render_json,
    render_junit,
    render_table,
    verdict_text,
    write_atomically,
)

SAME_STORE_HELP = (
    "Cheaper: build once in one store (the default store, or --store-a), then rebuild every "
    "derivation there with nix-store --realise --check (perturbed as a second build) and compare. "
    "Weaker: both builds share one store, so every rebuild uses the first build's inputs "
    "(nondeterminism that only shows when a dependency is rebuilt too is missed, and "
    "own/inherited is not asked); the first copy may be old or come from a binary cache, "
    "built under unknown conditions; nothing checks that the store holds no stray state."
)


@click.command(
    "verify",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.argument("installable", default=".#default", required=False, metavar="[FLAKE_REF#ATTR]")
@click.option(
    "--store-a",
    metavar="URL",
    help="Store for the first build (default: a fresh chroot store, local?root=<tmp>). "
    "Must not hold the outputs yet, e.g. ssh-ng://builder1.",
)
@click.option("--store-b", metavar="URL", help="Store for the second build (as --store-a).")
@click.option("--same-store", is_flag=True, help=SAME_STORE_HELP)
@click.option(
    "--perturb",
    "perturb_list",
    metavar="LIST",
    help="Comma-separated variations of the second build (default: every one this machine "
    f"and store allow): {', '.join(PERTURBATIONS)}. Naming one that cannot apply here is an "
    "error. See docs/verify.md.",
)
@click.option(
    "--no-perturb",
    is_flag=True,
    help="Vary nothing in the second build but the clock.",
)
@click.option(
    "--override-input",
    nargs=2,
    multiple=True,
    metavar="INPUT FLAKE_REF",
    help="Passed to the evaluation, e.g. --override-input nixpkgs path:/src/nixpkgs.",
)
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the report as JSON (schema p2n.verify/1, see docs/verify.md).",
)
@click.option(
    "--junit",
    "junit_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write JUnit XML: one test case per derivation, failures for differs/failed.",
)
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write one self-contained HTML page: verdict, a row per derivation, each difference "
    "explained (diffoscope's HTML when installed).",
)
@click.option("--keep", is_flag=True, help="Keep the temporary stores and print where they are.")
@click.option(
    "--no-diffoscope",
    is_flag=True,
    help="Explain differences with p2n's own minimal diff only, even if diffoscope is installed.",
)
@click.option(
    "--max-files",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Differing files listed per output.",
)
@click.option("-L", "--print-build-logs", is_flag=True, help="Show the builders' full output.")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
def verify_command(
    installable: str,
    store_a: str | None,
    store_b: str | None,
    same_store: bool,
    perturb_list: str | None,
    no_perturb: bool,
    override_input: tuple[tuple[str, str], ...],
    json_file: Path | None,
    junit_file: Path | None,
    html_file: Path | None,
    keep: bool,
    no_diffoscope: bool,
    max_files: int,
    print_build_logs: bool,
    quiet: bool,
) -> None:
    """Build FLAKE_REF#ATTR (default .#default) twice, separately, and prove it bit-identical.

    \b
    The build closure is realised in two fresh stores; fetches (fixed-output
    derivations) are realised once and copied into both. The second build runs
    at least a second later and varies build directory, cores, max-jobs, CPU
    affinity, kernel release, time zone, build user, directory order (disorderfs),
    host name and environment variables where this machine and the store allow
    it (--perturb); the report names what was varied and what was not. Every other derivation's
    output NAR hash is compared; for each that differs the files and the
    reason are shown, and whether it differs on its own or only because an
    input differs (inherited).

    \b
    Exit codes: 0 all reproducible, 1 something differs or failed to build,
    2 bad input or usage.
    """
    for report_file in (json_file, junit_file, html_file):
        if report_file is not None:
            check_writable(report_file)
    nix_args = tuple(arg for pair in override_input for arg in ("--override-input", *pair))
    if no_perturb and perturb_list is not None:
        raise InputError("--perturb and --no-perturb contradict each other; give one")
    perturb: frozenset[str] | None = frozenset() if no_perturb else None
    if perturb_list is not None:
        perturb = parse_perturbations(perturb_list)
    options = VerifyOptions(
        installable=installable,
        nix_args=nix_args,
        store_a=store_a,
        store_b=store_b,
        same_store=same_store,
        perturb=perturb,
        keep=keep,
        use_diffoscope=not no_diffoscope,
        max_files=max_files,
        build_logs=print_build_logs,
    )

    def progress(message: str) -> None:
        if not quiet:
            click.echo(message, err=True)

    report = verify(options, progress)
    click.echo(render_table(report), nl=False)
    if json_file is not None:
        write_atomically(json_file, render_json(report))
    if junit_file is not None:
        write_atomically(junit_file, render_junit(report))
    if html_file is not None:
        write_atomically(html_file, render_html(report))
    if not report.reproducible:
        raise NotReproducible(verdict_text(report))
