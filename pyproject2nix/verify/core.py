"""Run a verification from start to end: plan, build twice, compare, explain.

Two modes. Separate stores (the default): run A and run B each realise the
closure in their own store, B perturbed and later, then NAR hashes are
compared and differing derivations rebuilt against A's inputs to tell own
from inherited nondeterminism. Same store (``--same-store``): one build, then
``nix-store --realise --check`` of every derivation in that store.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .. import nixcli
from ..errors import InputError, NixError, VerdictError
from . import diff, envcheck
from .compare import (
    Explanation,
    PathInfos,
    assemble,
    fetch_failure_results,
    find_failures,
    log_tail,
    output_results,
)
from .model import (
    RUN_A,
    RUN_B,
    Derivation,
    DerivationResult,
    Failure,
    FileDifference,
    Origin,
    OutputResult,
    Plan,
    Status,
    VerifyReport,
)
from .perturb import STATIC_SHELL, Host, PerturbationPlan, plan_perturbations
from .plan import make_plan
from .stores import (
    RunSettings,
    Store,
    Workspace,
    build,
    chroot_store,
    fetch_fixed_outputs,
    make_runs,
    parse_store,
    seed_store,
    wait_for_clock_gap,
)

Progress = Callable[[str], None]

# Lines of Nix's output worth showing as progress when build logs are not wanted.
_PROGRESS_LINE = re.compile(r"^(building '|checking outputs of|error:|warning:)")
_CHECK_DIFFERS = re.compile(r"output '([^']+)' differs from '([^']+)'")
_BUILDING = re.compile(r"^building '(/[^']+\.drv)'")


class NotReproducible(VerdictError):
    """The verdict "something differs or failed to build" (exit code 1), raised after reporting."""


@dataclass(frozen=True)
class VerifyOptions:
    """What the user asked for (see ``p2n verify --help``)."""

    installable: str = ".#default"
    nix_args: tuple[str, ...] = ()  # passed to evaluation, e.g. --override-input a b
    store_a: str | None = None
    store_b: str | None = None
    same_store: bool = False
    perturb: frozenset[str] | None = None  # None: every perturbation this host allows
    keep: bool = False
    use_diffoscope: bool = True
    max_files: int = 50
    build_logs: bool = False


@dataclass
class _Context:
    options: VerifyOptions
    progress: Progress
    workspace: Workspace
    timings: dict[str, float] = field(default_factory=dict)
    # (run label, drv path) → wall-clock time Nix said "building" (per-derivation build time).
    build_started: dict[tuple[str, str], float] = field(default_factory=dict)

    def nix_lines(self, label: str) -> Callable[[str], None]:
        """Forward Nix's stderr as progress, prefixed with the run it belongs to."""

        def forward(line: str) -> None:
            building = _BUILDING.match(line)
            if building:
                self.build_started[(label.lower(), building.group(1))] = time.time()
            if self.options.build_logs or _PROGRESS_LINE.match(line):
                self.progress(f"  [{label}] {line}")

        return forward

    def timed(self, name: str, started: float) -> None:
        self.timings[name] = round(time.monotonic() - started, 3)


def verify(options: VerifyOptions, progress: Progress) -> VerifyReport:
    """Verify ``options.installable``; the report says per derivation what was found."""
    if options.same_store and options.store_b:
        raise InputError("--same-store builds in one store; drop --store-b (or --same-store)")
    started = time.monotonic()
    progress(f"p2n verify: evaluating {options.installable}")
    plan = make_plan(options.installable, nix_args=options.nix_args)
    progress(
        f"p2n verify: {len(plan.order)} derivations to build, "
        f"{len(plan.fixed_outputs)} fixed-output (fetch) derivations to copy"
    )
    context = _Context(options, progress, Workspace.create(keep=options.keep))
    context.timed("evaluate", started)
    try:
        if options.same_store:
            report = _verify_same_store(plan, context)
        else:
            report = _verify_separate_stores(plan, context)
    finally:
        cleanup_started = time.monotonic()
        context.workspace.cleanup()
        context.timed("cleanup", cleanup_started)
        if options.keep:
            progress(f"p2n verify: kept the work directory {context.workspace.root}")
    context.timed("total", started)
    return report


def _explainer(
    context: _Context, read_a: Callable[[str], Path | None], read_b: Callable[[str], Path | None]
) -> Callable[[Derivation, tuple[OutputResult, ...]], Explanation]:
    """Build the callable that lists and explains the files of differing outputs."""

    def explain(derivation: Derivation, outputs: tuple[OutputResult, ...]) -> Explanation:
        context.progress(f"p2n verify: {derivation.name} differs: comparing its files")
        files: list[FileDifference] = []
        truncated = 0
        reports: list[str] = []
        pages: list[tuple[str, str]] = []
        for output in outputs:
            if output.identical:
                continue
            root_a, root_b = read_a(output.path), read_b(output.path)
            if root_a is None or root_b is None:
                continue
            found, more = diff.compare_trees(
                root_a, root_b, output=output.name, limit=context.options.max_files
            )
            files.extend(found)
            truncated += more
            if context.options.use_diffoscope:
                found_report = diff.run_diffoscope(root_a, root_b)
                if found_report:
                    heading = f"output {output.name}:\n" if len(outputs) > 1 else ""
                    reports.append(heading + found_report.text)
                    if found_report.html:
                        pages.append((output.name, found_report.html))
        return Explanation(tuple(files), truncated, "\n".join(reports) or None, tuple(pages))

    return explain


def _local_reader(context: _Context, store: Store, label: str) -> Callable[[str], Path | None]:
    """Where to read a store path's files: on disk for chroot stores, else unpacked here."""

    def read(store_path: str) -> Path | None:
        real = store.real_path(store_path)
        if real is not None and (real.exists() or real.is_symlink()):
            return real
        destination = context.workspace.directory("unpacked", label) / store_path.rsplit("/", 1)[-1]
        if not destination.exists():
            try:
                nixcli.dump_path_into(store_path, store=store.url, destination=str(destination))
            except NixError as error:
                context.progress(f"p2n verify: cannot read {store_path} from {store}: {error}")
                return None
        return destination

    return read


def _ensure_fresh(store: Store, plan: Plan) -> None:
    """A user-given store must not hold the outputs already, or nothing would be rebuilt."""
    outputs = [path for derivation in plan.built() for path in derivation.output_paths]
    present = sorted(
        path for path, info in nixcli.path_infos(outputs, store=store.url).items() if info
    )
    if present:
        raise InputError(
            f"store {store} already holds {len(present)} of the outputs to verify "
            f"(e.g. {present[0]}); give an empty store, or delete them first with "
            f"nix store delete --store '{store}' PATHS"
        )


def _verify_separate_stores(plan: Plan, context: _Context) -> VerifyReport:
    options, progress, workspace = context.options, context.progress, context.workspace
    store_a = (
        parse_store(options.store_a)
        if options.store_a
        else chroot_store(workspace.directory("store-a"))
    )
    store_b = (
        parse_store(options.store_b)
        if options.store_b
        else chroot_store(workspace.directory("store-b"))
    )
    if store_a.url == store_b.url:
        raise InputError(
            f"--store-a and --store-b are the same store ({store_a}); use --same-store"
        )
    for store, given in ((store_a, options.store_a), (store_b, options.store_b)):
        if given:
            _ensure_fresh(store, plan)
    perturbation_plan = plan_perturbations(
        options.perturb,
        Host.detect(
            local_builds=store_b.root is not None,
            sandboxed=True,
            store_a_local=store_a.root is not None or store_a.url is None,
        ),
    )
    run_a, run_b = make_runs(workspace, perturbation_plan)

    # Work that does not need the CPU the builds use, or only A's outputs, runs beside
    # them: copying into store B during A; the environment variants (store A, A's
    # outputs) during B, whose builders are often pinned to one CPU ("cpus").
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="p2n-verify") as background:
        started = time.monotonic()
        failed_fetches: set[str] = set()
        if plan.fixed_outputs:
            progress(
                f"p2n verify: fetching {len(plan.fixed_outputs)} sources once (default store)"
            )
            failed_fetches = fetch_fixed_outputs(plan, on_line=context.nix_lines("fetch"))
        seed_store(plan, store_a, failed_fetches=failed_fetches)
        seeded_b = background.submit(seed_store, plan, store_b, failed_fetches=failed_fetches)
        context.timed("fetch_and_copy", started)

        outputs = [path for derivation in plan.built() for path in derivation.output_paths]
        infos: dict[str, PathInfos] = {}
        progress(f"p2n verify: build A in {store_a} ({_settings_text(run_a)})")
        started = time.monotonic()
        build([plan.top], store_a, run_a, on_line=context.nix_lines("A"))
        finished = time.monotonic()
        context.timed("build_a", started)
        infos[RUN_A] = nixcli.path_infos(outputs, store=store_a.url)
        seeded_b.result()

        # Every derivation A built gets a variant; those reproducible in A and B use it.
        variants: Future[_VariantBuild] | None = None
        if _variant_perturbations(perturbation_plan):
            built_in_a = [
                derivation
                for derivation in plan.built()
                if all(infos[RUN_A].get(path) is not None for path in derivation.output_paths)
            ]
            variants = background.submit(
                _build_variants,
                built_in_a,
                store_a,
                _settings_beside_b(run_a, perturbation_plan),
                perturbation_plan,
                context,
            )

        wait_for_clock_gap(finished)
        progress(f"p2n verify: build B in {store_b} ({_settings_text(run_b)})")
        started = time.monotonic()
        build([plan.top], store_b, run_b, on_line=context.nix_lines("B"))
        context.timed("build_b", started)
        infos[RUN_B] = nixcli.path_infos(outputs, store=store_b.url)

        started = time.monotonic()
        failures: dict[str, tuple[Failure, ...]] = {}
        for label, store in ((RUN_A, store_a), (RUN_B, store_b)):
            found = find_failures(
                plan,
                infos[label],
                label,
                failed_fetches=failed_fetches,
                log_for=_log_reader(store),
            )
            for drv_path, failure in found.items():
                failures[drv_path] = (*failures.get(drv_path, ()), failure)

        def recheck(derivation: Derivation) -> bool | None:
            progress(
                f"p2n verify: {derivation.name} differs, so do its inputs: "
                "rebuilding it on A's inputs"
            )
            return _check_rebuild(derivation, store_a, run_b, context)

        results = fetch_failure_results(plan, failed_fetches, log_for=_log_reader(Store(None)))
        results += assemble(
            plan,
            infos[RUN_A],
            infos[RUN_B],
            failures,
            recheck=recheck,
            explain=_explainer(
                context,
                _local_reader(context, store_a, RUN_A),
                _local_reader(context, store_b, RUN_B),
            ),
        )
        context.timed("compare", started)
        if not options.store_b and store_b.root is not None:
            context.workspace.remove_early(store_b.root)  # read no more: free it meanwhile
        results = [_with_build_times(result, infos, context) for result in results]
        if variants is not None:
            results = _apply_variants(results, variants.result(), store_a, context)
    return _report(plan, context, "separate-stores", store_a, store_b, perturbation_plan, results)


def _variant_perturbations(perturbation_plan: PerturbationPlan) -> list[str]:
    """The applied perturbations that need variant derivations (see envcheck.py)."""
    return [p.name for p in perturbation_plan.applied if p.name in ("environment", "umask")]


@dataclass(frozen=True)
class _VariantBuild:
    """The environment variants made and built in one store, and which outputs became valid."""

    variants: tuple[envcheck.Variant, ...]
    valid: PathInfos
    varied: tuple[str, ...]
    scratch: Path
    started: float  # time.monotonic() when making them began


def _settings_beside_b(run_a: RunSettings, perturbation_plan: PerturbationPlan) -> RunSettings:
    """Run A's settings for variants that build while run B does (see max_jobs_beside_b)."""
    return dataclasses.replace(
        run_a,
        label="env",
        nix_settings={**run_a.nix_settings, "max-jobs": perturbation_plan.max_jobs_beside_b},
    )


def _build_variants(
    candidates: list[Derivation],
    store: Store,
    settings: RunSettings,
    perturbation_plan: PerturbationPlan,
    context: _Context,
) -> _VariantBuild:
    """Rebuild each of ``candidates`` as a variant (variables, umask) in ``store`` (A's).

    The variants build on A's outputs with A's settings (``settings``, whose max-jobs
    may be lower while run B builds beside them): only what the variant changes
    differs. See :mod:`envcheck`.
    """
    started = time.monotonic()
    varied = _variant_perturbations(perturbation_plan)
    what = []
    if "environment" in varied:
        what.append(", ".join(envcheck.EXTRA_ENVIRONMENT) + " set")
    if "umask" in varied:
        what.append(f"umask {envcheck.UMASK}")
    context.progress(
        f"p2n verify: {' and '.join(varied)}: rebuilding {len(candidates)} derivations "
        f"in {store} with {' and '.join(what)}"
    )
    scratch = context.workspace.directory("variants")
    variants, unsupported = envcheck.make_variants(
        candidates,
        store.url,
        scratch,
        environment="environment" in varied,
        umask_shell=STATIC_SHELL if "umask" in varied else None,
    )
    for derivation in unsupported:
        context.progress(
            f"p2n verify: {derivation.name} has no variant (structured attrs or reference checks)"
        )
    if variants:
        build([v.drv_path for v in variants], store, settings, on_line=context.nix_lines("env"))
    valid = nixcli.path_infos(
        [path for variant in variants for path in variant.outputs.values()], store=store.url
    )
    context.timed("variants_build", started)
    return _VariantBuild(tuple(variants), valid, tuple(varied), scratch, started)


def _apply_variants(
    results: list[DerivationResult], built: _VariantBuild, store: Store, context: _Context
) -> list[DerivationResult]:
    """Compare each variant with A's output, for derivations reproducible in A and B."""
    started = time.monotonic()
    by_drv = {variant.original.drv_path: variant for variant in built.variants}
    read_a = _local_reader(context, store, RUN_A)
    found_by = ", ".join(built.varied)
    checked: list[DerivationResult] = []
    for result in results:
        variant = by_drv.get(result.derivation.drv_path)
        if variant is None or result.status is not Status.REPRODUCIBLE:
            checked.append(result)
            continue
        checked.append(
            _compare_variant(result, variant, built.valid, store, read_a, built.scratch, context)
        )
    checked = [
        dataclasses.replace(r, found_by=found_by) if r.found_by == "variant" else r for r in checked
    ]
    context.timed("variants_compare", started)
    context.timed("variants", built.started)  # from making them to compared, as before
    return checked


def _compare_variant(
    result: DerivationResult,
    variant: envcheck.Variant,
    valid: PathInfos,
    store: Store,
    read_a: Callable[[str], Path | None],
    scratch: Path,
    context: _Context,
) -> DerivationResult:
    """The result after the variant: unchanged, or differs/failed (found by the variant)."""
    if any(valid.get(path) is None for path in variant.outputs.values()):
        log = nixcli.build_log(variant.drv_path, store=store.url)
        failure = Failure("variant", "build", log_tail=log_tail(log))
        return dataclasses.replace(
            result, status=Status.FAILED, failures=(failure,), found_by="variant"
        )
    files: list[FileDifference] = []
    truncated = 0
    differs = False
    for output in result.outputs:
        nar = envcheck.rewritten_nar(
            variant, output.name, store.url, store.real_path(variant.outputs[output.name])
        )
        if envcheck.nar_hash(nar) == output.nar_hash_a:
            continue
        differs = True
        root_a = read_a(output.path)
        unpacked = envcheck.restore(
            nar, scratch / variant.drv_path.rsplit("/", 1)[-1] / output.name
        )
        if root_a is not None:
            found, more = diff.compare_trees(
                root_a, unpacked, output=output.name, limit=context.options.max_files
            )
            files.extend(found)
            truncated += more
    if not differs:
        return result
    context.progress(f"p2n verify: {result.derivation.name}'s variant differs")
    return dataclasses.replace(
        result,
        status=Status.DIFFERS,
        origin=Origin.OWN,
        files=tuple(files),
        files_truncated=truncated,
        found_by="variant",
    )


def _with_build_times(
    result: DerivationResult, infos: Mapping[str, PathInfos], context: _Context
) -> DerivationResult:
    """Add each run's build time: from Nix's "building" line to the output's registration.

    registrationTime has whole seconds (and a remote store's clock), so this is
    a rough figure for the report, not a benchmark.
    """
    seconds: list[tuple[str, float]] = []
    for label, run_infos in sorted(infos.items()):
        started = context.build_started.get((label, result.derivation.drv_path))
        registered = [
            info.get("registrationTime")
            for path in result.derivation.output_paths
            if (info := run_infos.get(path)) is not None
        ]
        if started is None or not registered or not all(isinstance(t, int) for t in registered):
            continue
        finished = max(int(t) for t in registered if t is not None)
        seconds.append((label, round(max(0.0, finished - started), 1)))
    return dataclasses.replace(result, build_seconds=tuple(seconds))


def _log_reader(store: Store) -> Callable[[str], str]:
    def read(drv_path: str) -> str:
        return nixcli.build_log(drv_path, store=store.url)

    return read


def _settings_text(settings: RunSettings) -> str:
    return ", ".join(f"{name} = {value}" for name, value in sorted(settings.nix_settings.items()))


def _check_rebuild(
    derivation: Derivation, store: Store, settings: RunSettings, context: _Context
) -> bool | None:
    """Rebuild ``derivation`` in ``store`` (its inputs, run B's settings) and compare.

    True: differs again; False: identical; None: the rebuild itself failed.
    """
    check_settings = dataclasses.replace(settings, label="check")
    result = build_check(derivation, store, check_settings, context, keep_failed=False)
    if result.returncode == 0:
        return False
    if _CHECK_DIFFERS.search(result.stderr) or "may not be deterministic" in result.stderr:
        return True
    return None


def build_check(
    derivation: Derivation,
    store: Store,
    settings: RunSettings,
    context: _Context,
    *,
    keep_failed: bool,
) -> nixcli.NixResult:
    """``nix-store --realise --check`` one derivation with a run's settings."""
    return nixcli.realise(
        [derivation.drv_path],
        store=store.url,
        settings=settings.nix_settings,
        check=True,
        keep_failed=keep_failed,
        env=settings.env(),
        wrapper=settings.wrapper,
        on_stderr_line=context.nix_lines("check"),
    )


def _verify_same_store(plan: Plan, context: _Context) -> VerifyReport:
    options, progress, workspace = context.options, context.progress, context.workspace
    store = parse_store(options.store_a) if options.store_a else Store(None)
    perturbation_plan = plan_perturbations(options.perturb, _same_store_host(store))
    run_a, run_b = make_runs(workspace, perturbation_plan)

    failed_fetches: set[str] = set()
    if store.url is not None:
        # Not the store the evaluation wrote the derivations to: copy them and the
        # sources there first, as for separate stores.
        started = time.monotonic()
        if plan.fixed_outputs:
            progress(f"p2n verify: fetching {len(plan.fixed_outputs)} sources (default store)")
            failed_fetches = fetch_fixed_outputs(plan, on_line=context.nix_lines("fetch"))
        seed_store(plan, store, failed_fetches=failed_fetches)
        context.timed("fetch_and_copy", started)

    progress(f"p2n verify: build in {store} (if not built yet)")
    started = time.monotonic()
    build([plan.top], store, run_a, on_line=context.nix_lines("A"))
    finished = time.monotonic()
    context.timed("build_a", started)
    outputs = [path for derivation in plan.built() for path in derivation.output_paths]
    infos = nixcli.path_infos(outputs, store=store.url)
    failures = find_failures(
        plan,
        infos,
        RUN_A,
        failed_fetches=failed_fetches,
        log_for=_log_reader(store),
    )
    # The rebuilds below run one derivation at a time: the variants build beside them,
    # on the same outputs of A, as in separate-stores mode.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="p2n-verify") as background:
        variants: Future[_VariantBuild] | None = None
        if _variant_perturbations(perturbation_plan):
            built = [d for d in plan.built() if d.drv_path not in failures]
            variants = background.submit(
                _build_variants,
                built,
                store,
                _settings_beside_b(run_a, perturbation_plan),
                perturbation_plan,
                context,
            )
        wait_for_clock_gap(finished)

        started = time.monotonic()
        check_settings = run_b
        results = fetch_failure_results(plan, failed_fetches, log_for=_log_reader(Store(None)))
        for derivation in plan.built():
            outputs_a = output_results(derivation, infos, infos)
            if derivation.drv_path in failures:
                failure = failures[derivation.drv_path]
                results.append(
                    DerivationResult(derivation, Status.FAILED, outputs_a, failures=(failure,))
                )
                continue
            progress(f"p2n verify: rebuilding {derivation.name} in the same store (--check)")
            result = build_check(derivation, store, check_settings, context, keep_failed=True)
            results.append(_same_store_result(derivation, outputs_a, result, context))
        context.timed("build_b_and_compare", started)
        if variants is not None:
            results = _apply_variants(results, variants.result(), store, context)
    return _report(plan, context, "same-store", store, store, perturbation_plan, results)


def _same_store_host(store: Store) -> Host:
    """Whether the one store's builds are this process's children, and sandboxed."""
    if store.root is not None:
        return Host.detect(local_builds=True, sandboxed=True)
    if store.url not in (None, "local", "daemon", "auto"):
        return Host.detect(local_builds=False, sandboxed=True, store_a_local=False)
    local = store.url in (None, "local") and os.geteuid() == 0
    local = local and os.environ.get("NIX_REMOTE", "") in ("", "local")
    return Host.detect(local_builds=local, sandboxed=nixcli.config_value("sandbox") != "false")


def _same_store_result(
    derivation: Derivation,
    outputs_a: tuple[OutputResult, ...],
    result: nixcli.NixResult,
    context: _Context,
) -> DerivationResult:
    """The verdict for one ``--check`` rebuild; the kept ``.check`` copies explain a difference."""
    if result.returncode == 0:
        return DerivationResult(derivation, Status.REPRODUCIBLE, outputs_a)
    pairs = {
        _store_path_of(first): (Path(first), Path(second))
        for first, second in _CHECK_DIFFERS.findall(result.stderr)
    }
    if not pairs and "may not be deterministic" not in result.stderr:
        failure = Failure("check", "build", log_tail=log_tail(result.stderr))
        return DerivationResult(derivation, Status.FAILED, outputs_a, failures=(failure,))
    for _first, second in pairs.values():
        context.workspace.extra_paths.append(second)
    outputs: list[OutputResult] = []
    for output in outputs_a:
        pair = pairs.get(output.path)
        if pair is None or not pair[1].exists():
            outputs.append(
                output
                if pair is None
                else OutputResult(output.name, output.path, output.nar_hash_a, None)
            )
            continue
        outputs.append(
            OutputResult(output.name, output.path, output.nar_hash_a, nixcli.nar_hash(str(pair[1])))
        )
    explain = _explainer(
        context,
        lambda path: pairs[path][0] if path in pairs and pairs[path][0].exists() else None,
        lambda path: pairs[path][1] if path in pairs and pairs[path][1].exists() else None,
    )
    explanation = explain(derivation, tuple(outputs))
    return DerivationResult(
        derivation,
        Status.DIFFERS,
        tuple(outputs),
        origin=Origin.OWN,
        files=explanation.files,
        files_truncated=explanation.truncated,
        diffoscope=explanation.diffoscope,
        diffoscope_html=explanation.diffoscope_html,
    )


def _store_path_of(real_path: str) -> str:
    """``/root/nix/store/x`` (a chroot store's file) → ``/nix/store/x``."""
    index = real_path.rfind("/nix/store/")
    return real_path[index:] if index >= 0 else real_path


def _report(
    plan: Plan,
    context: _Context,
    mode: str,
    store_a: Store,
    store_b: Store,
    perturbations: PerturbationPlan,
    results: list[DerivationResult],
) -> VerifyReport:
    return VerifyReport(
        installable=plan.installable,
        top=plan.top,
        mode=mode,
        store_a=str(store_a),
        store_b=str(store_b),
        kept=str(context.workspace.root) if context.options.keep else None,
        perturbations=perturbations.applied,
        not_perturbed=perturbations.not_applied,
        results=tuple(results),
        fixed_outputs=tuple(plan.derivations[path] for path in plan.fixed_outputs),
        timings=context.timings,
    )
