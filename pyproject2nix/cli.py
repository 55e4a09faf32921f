"""Command-line interface: parses arguments, prints, maps errors to exit codes.

Work lives in the library modules; this module only wires them to click.
Exit codes: 0 success, 1 a negative verdict (not reproducible, stale),
2 bad input or usage. An unexpected exception is a bug and says so.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, TypeVar

import click

from . import __version__
from .errors import InputError, P2NError, VerdictError
from .request import GeneratePlan, GenerateRequest
from .systems import DEFAULT_SYSTEMS, SYSTEM_NAMES


class LazyGroup(click.Group):
    """A group whose heavier subcommands are imported only when run.

    ``p2n check`` runs in pre-commit hooks and ``p2n generate`` is benchmarked
    against ``uv export``: neither should pay for importing the verifier.
    """

    lazy_commands: ClassVar[dict[str, str]] = {
        "verify": "pyproject2nix.verify.command:verify_command"
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy_commands])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy_commands.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attr = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command


FC = TypeVar("FC", bound=Callable[..., object])


def project_option(help_text: str) -> Callable[[FC], FC]:
    """``--project DIR`` (default: the current directory), shared by the commands."""
    return click.option(
        "--project",
        "project_dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        default=Path("."),
        show_default=True,
        help=help_text,
    )


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="p2n")
def cli() -> None:
    """pyproject2nix: turn a Python lock file into a static, hash-pinned Nix flake.

    \b
    p2n generate   write flake.nix + p2n/ from pyproject.toml and its lock
                   (uv.lock, poetry.lock, pylock.toml, Pipfile.lock,
                   requirements.txt with hashes)
    p2n verify     build the environment twice in separate stores, compare
    p2n diff       what a lock update changes, per system (for review)
    """


@cli.command()
@project_option("Project directory holding pyproject.toml and the lock; files are written there.")
@click.option(
    "--python",
    metavar="3.X",
    help="Target CPython (nixpkgs pythonXY). Default: .python-version, else the oldest "
    "of 3.11-3.14 that requires-python allows.",
)
@click.option(
    "--system",
    "systems",
    multiple=True,
    type=click.Choice(SYSTEM_NAMES),
    help="Nix system to generate for (repeatable); each must be served, or p2n stops with why. "
    f"Default: every one of {', '.join(DEFAULT_SYSTEMS)} the lock can serve; the others are "
    "left out with a warning and a note in p2n/lock.nix.",
)
@click.option("--extra", "extras", multiple=True, help="Install this extra of the project.")
@click.option("--all-extras", is_flag=True, help="Install every extra of the project.")
@click.option(
    "--group", "groups", multiple=True, help="Install this dependency group (repeatable)."
)
@click.option("--no-dev", is_flag=True, help="Leave out the default 'dev' group (as uv sync).")
@click.option(
    "--with",
    "with_groups",
    multiple=True,
    metavar="GROUP",
    help="Also install GROUP, e.g. an optional Poetry group (like poetry install --with).",
)
@click.option(
    "--without",
    "without_groups",
    multiple=True,
    metavar="GROUP",
    help="Leave out GROUP (like poetry install --without; repeatable).",
)
@click.option(
    "--only",
    "only_groups",
    multiple=True,
    metavar="GROUP",
    help="Install only these groups; 'main' is the project's own dependencies "
    "(like poetry install --only; repeatable).",
)
@click.option(
    "--lock",
    "lock_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The lock to read: uv.lock, poetry.lock, pylock[.NAME].toml, Pipfile.lock or a "
    "requirements file (*.txt, compiled with hashes) beside pyproject.toml. "
    "Default: the first of those found.",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Local sources (path dependencies, workspace members, local wheels) may live "
    "anywhere below DIR, which must hold the project; build the flake from DIR "
    "(nix build 'path:DIR?dir=SUB'). Default: the enclosing git repository, else the "
    "project directory.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Use no network: file URLs that the lock lacks (poetry.lock) come from the cache "
    "($XDG_CACHE_HOME/p2n), build requirements from p2n/build-systems.toml.",
)
@click.option(
    "--trust-index-hashes",
    is_flag=True,
    help="Take sha256 hashes the lock lacks (md5-only or no files listed) from the package "
    "index; p2n/lock.nix then says so.",
)
@click.option(
    "--prefer-sdist",
    "prefer_sdist",
    multiple=True,
    metavar="PKG",
    help="Build PKG from its sdist although a wheel fits (repeatable; :all: for every package "
    "that has an sdist). Packages without a fitting wheel are always built from their sdist.",
)
@click.option(
    "--prefer-wheel",
    "prefer_wheel",
    multiple=True,
    metavar="PKG",
    help="Install PKG from a wheel although --prefer-sdist :all: is given (repeatable).",
)
@click.option(
    "--allow-insecure-http",
    is_flag=True,
    help="Accept http:// file URLs (Nix still checks each sha256); noted in p2n/lock.nix.",
)
@click.option(
    "--allow-file-urls",
    is_flag=True,
    help="Accept file:// URLs (they exist only on this machine); noted in p2n/lock.nix.",
)
@click.option(
    "--frozen",
    is_flag=True,
    help="Use the lock as it is, even if it no longer matches pyproject.toml (like uv's "
    "--frozen). Without it a lock that misses what pyproject.toml declares is refused.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Write flake.nix although the project has one (without it an existing flake.nix is "
    "kept and only p2n/ is refreshed), and replace files under p2n/ that p2n does not write.",
)
def generate(
    project_dir: Path,
    python: str | None,
    systems: tuple[str, ...],
    extras: tuple[str, ...],
    all_extras: bool,
    groups: tuple[str, ...],
    no_dev: bool,
    with_groups: tuple[str, ...],
    without_groups: tuple[str, ...],
    only_groups: tuple[str, ...],
    lock_file: Path | None,
    root: Path | None,
    offline: bool,
    trust_index_hashes: bool,
    prefer_sdist: tuple[str, ...],
    prefer_wheel: tuple[str, ...],
    allow_insecure_http: bool,
    allow_file_urls: bool,
    frozen: bool,
    force: bool,
) -> None:
    """Write p2n/ (locked data + builder library) and, if there is none, flake.nix.

    An existing flake.nix is kept (--force writes p2n's again); it uses p2n/
    through `import ./p2n { inherit pkgs; }`.

    Reads uv.lock, poetry.lock (1.1, 2.0, 2.1), a PEP 751 pylock.toml, Pipfile.lock or a
    requirements.txt compiled with --generate-hashes (one platform: pass --system). poetry.lock
    names files without URLs: p2n asks each file's index (simple API) for its URL
    and checks the index's sha256 against the lock's; pages are cached.

    Every package becomes a derivation pinned by URL and sha256; markers and
    wheels are chosen for each target system, not for this machine. Like
    `uv sync`, the 'dev' group is installed unless --no-dev. Output is
    deterministic: running it twice gives byte-identical files.

    \b
    Then:  nix build        the environment (result/bin/python)
           nix run          the project's first console script
           nix develop      a shell with that interpreter and packages
    """
    from .memo import cached_plan
    from .output import check_not_foreign, keeps_flake, recover, write_tree
    from .settings import Settings, relative_root

    recover(project_dir)

    request = GenerateRequest(
        project_dir=project_dir,
        settings=Settings(
            python=python,
            systems=systems,
            extras=extras,
            all_extras=all_extras,
            groups=(*groups, *with_groups),
            no_default_groups=no_dev,
            without_groups=without_groups,
            only_groups=only_groups or None,
            prefer_sdist=_package_names(prefer_sdist),
            prefer_wheel=_package_names(prefer_wheel),
            lock_file=lock_file.name if lock_file is not None else None,
            trust_index_hashes=trust_index_hashes,
            allow_insecure_http=allow_insecure_http,
            allow_file_urls=allow_file_urls,
            root=relative_root(root, project_dir) if root is not None else None,
        ),
        lock_argument=lock_file,
        offline=offline,
        frozen=frozen,
        progress=_progress_line if sys.stderr.isatty() else None,
    )
    result = cached_plan(request, _plan)
    kept_flake = keeps_flake(project_dir, force, result.files.get("flake.nix"))
    files = {
        rel: content
        for rel, content in result.files.items()
        if not (kept_flake and rel == "flake.nix")
    }
    check_not_foreign(project_dir, force, files)
    changed = write_tree(project_dir, files)
    counts = ", ".join(f"{system}: {n}" for system, n in sorted(result.package_counts.items()))
    python_text = f"{result.python[0]}.{result.python[1]}"
    shown_lock = printable(str(result.lock_path))
    click.echo(f"p2n: {shown_lock} -> CPython {python_text}; packages per system: {counts}")
    for left in result.left_out:
        if left.missing_files:
            click.echo(
                f"p2n: WARNING: {left.system} left out: {left.reason}; to require it, "
                f"{left.fix}; --system {left.system} makes this an error",
                err=True,
            )
        else:
            click.echo(f"p2n: {left.system} left out: {left.reason}")
    if result.other_locks:
        click.echo(
            f"p2n: read {printable(result.lock_path.name)}; "
            f"also found {printable(', '.join(result.other_locks))} "
            "(choose with --lock)"
        )
    if result.resolved_files and result.from_cache:
        click.echo(
            f"p2n: URLs of {result.resolved_files} files from package indexes, as the last "
            "run found them (nothing it read has changed)"
        )
    elif result.resolved_files:
        click.echo(
            f"p2n: URLs of {result.resolved_files} files from package indexes: "
            f"{result.index_requests} requests, {result.index_cached} pages from cache"
        )
    if result.drift:
        from .lockfiles import drift_summary

        click.echo(
            f"p2n: warning: {result.lock_path.name} does not match pyproject.toml "
            f"({drift_summary(result.drift)}); used as it is (--frozen)",
            err=True,
        )
    if result.trusted:
        click.echo(
            f"p2n: warning: sha256 of {len(result.trusted)} entries taken from the index "
            "(--trust-index-hashes), as p2n/lock.nix notes",
            err=True,
        )
    if kept_flake:
        click.echo(
            "p2n: kept flake.nix (--force writes p2n's); its outputs come from "
            "`import ./p2n { inherit pkgs; }` (README: use from an existing flake)"
        )
    if changed:
        click.echo(f"p2n: wrote {', '.join(changed)}")
    else:
        click.echo("p2n: generated files are up to date")
    if (project_dir / ".git").exists() or _inside_git(project_dir):
        if _git_ignores(project_dir, "p2n/lib/default.nix"):
            # Python .gitignore templates ignore lib/: `git add p2n` would skip the library.
            click.echo(
                "p2n: in a git repository Nix sees only tracked files, and a .gitignore rule "
                "ignores p2n/lib: git add -f flake.nix p2n"
            )
        else:
            click.echo(
                "p2n: in a git repository Nix sees only tracked files: git add flake.nix p2n"
            )


@cli.command()
@project_option("Project directory holding the generated files.")
def check(project_dir: Path) -> None:
    """Exit 1 if flake.nix/p2n/ no longer match the lock, pyproject.toml or p2n's version.

    Regenerates in memory with the options recorded in p2n/lock.nix and
    compares bytes; writes nothing. A lock that no longer matches
    pyproject.toml (a dependency added without `uv lock` / `poetry lock`) is
    stale too. Exit codes: 0 fresh, 1 stale (what and why are printed), 2 bad
    input. Fast enough for a pre-commit hook.
    """
    from .check import check as check_freshness

    freshness = check_freshness(project_dir)
    if freshness.fresh:
        click.echo("p2n: generated files are fresh")
        return
    click.echo(f"p2n: stale: {', '.join(freshness.stale_files)}", err=True)
    for reason in freshness.reasons:
        click.echo(f"p2n:   {reason}", err=True)
    click.echo("p2n: run `p2n generate` to update them", err=True)
    raise StaleError()


@cli.command()
@click.argument("old", required=False)
@click.argument("new", required=False)
@click.option(
    "--rev",
    metavar="REV",
    help="Compare the lock at git revision REV with the working tree: "
    "`p2n diff --rev main` or `p2n diff --rev HEAD~1 poetry.lock`.",
)
@click.option(
    "--system",
    "systems",
    multiple=True,
    type=click.Choice(SYSTEM_NAMES),
    help="Only this Nix system (repeatable). Default: every default system a lock supports.",
)
@click.option("--python", metavar="3.X", help="Target CPython. Default: as p2n generate.")
@click.option("--all-extras", is_flag=True, help="Include every extra of the project.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option("--markdown", is_flag=True, help="Print Markdown tables (for a PR comment).")
def diff(
    old: str | None,
    new: str | None,
    rev: str | None,
    systems: tuple[str, ...],
    python: str | None,
    all_extras: bool,
    as_json: bool,
    markdown: bool,
) -> None:
    """Show what a lock update changes in what each system installs.

    OLD and NEW are lock files (any format p2n reads), project directories, or
    git revisions of a lock in git's REV:PATH form (`p2n diff HEAD~1:uv.lock
    uv.lock`; a PATH after ':' is from the repository root, REV:./PATH from
    here). With --rev REV, OLD is the lock at REV and NEW the working tree's.

    Per system: packages added, removed, upgraded, downgraded or changed, with
    versions, source kind, file kind and size deltas where the lock records
    sizes; notes flag major-version jumps, downgrades, wheel->sdist switches,
    native code gained and changed hashes. Exit 0 with or without changes,
    2 on bad input.
    """
    from .diffinput import read_side
    from .lockdiff import diff_locks, render_json, render_markdown, render_text
    from .select import Options
    from .targets import parse_python

    if rev is not None:
        if new is not None:
            raise UsageError("p2n diff --rev REV takes at most one lock file")
        new = old or _default_lock()
        old = f"{rev}:./{new}"
    if old is None or new is None:
        raise UsageError("p2n diff needs OLD and NEW (or --rev REV); see p2n diff --help")
    cwd = Path.cwd()
    before, after = read_side(old, cwd), read_side(new, cwd)
    result = diff_locks(
        before.lock,
        after.lock,
        old_label=before.label,
        new_label=after.label,
        systems=systems,
        python=parse_python(python) if python else None,
        options=Options(all_extras=all_extras),
    )
    render = render_json if as_json else render_markdown if markdown else render_text
    click.echo(render(result), nl=False)


def _package_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """Names as given to --prefer-*, normalised (``:all:`` stays)."""
    if not names:
        return ()  # packaging is imported only where a run needs it
    from packaging.utils import canonicalize_name

    return tuple(n if n == ":all:" else canonicalize_name(n) for n in names)


def _plan(request: GenerateRequest) -> GeneratePlan:
    """Run the pipeline (imported only when the generate cache has no answer)."""
    from .generate import plan

    return plan(request)


def _default_lock() -> str:
    from .lockfiles import find_lock

    return find_lock(Path.cwd()).name


def _progress_line(done: int, total: int) -> None:
    """One self-overwriting stderr line while package indexes answer."""
    click.echo(f"\rp2n: asking package indexes: {done}/{total} projects", nl=False, err=True)
    if done == total:
        click.echo("", err=True)


def _inside_git(directory: Path) -> bool:
    return any((parent / ".git").exists() for parent in directory.resolve().parents)


def _git_ignores(directory: Path, relative: str) -> bool:
    """True when git's ignore rules cover ``relative`` (so ``git add`` would skip it)."""
    import subprocess

    try:
        result = subprocess.run(
            ["git", "-C", str(directory), "check-ignore", "-q", "--", relative],
            capture_output=True,
            check=False,
        )
    except OSError:
        return False
    return result.returncode == 0


class UsageError(InputError):
    """Arguments that do not fit together."""


def printable(text: str) -> str:
    """Text for the terminal: control characters (a newline, ESC sequences from a file
    name or a lock value) shown as ``\\u{…}`` so a message stays one harmless line."""
    return "".join(c if c.isprintable() or c == " " else f"\\u{{{ord(c):x}}}" for c in text)


class StaleError(VerdictError):
    """Generated files are stale (already reported)."""


def main() -> None:
    """Entry point: run the CLI, turn our errors into one line and an exit code."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("p2n: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except VerdictError as exc:
        if str(exc):
            click.echo(f"p2n: {printable(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except P2NError as exc:
        click.echo(f"p2n: error: {printable(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except Exception:
        import traceback  # only for bugs: ~10 ms of imports (linecache, tokenize)

        traceback.print_exc()
        click.echo(
            "p2n: internal error (this is a bug in p2n; please report it with the trace above)",
            err=True,
        )
        sys.exit(3)
    sys.exit(0)
