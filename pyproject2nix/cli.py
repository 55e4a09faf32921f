"""Command-line interface: parses arguments, prints, maps errors to exit codes.

Work lives in the library modules; this module only wires them to click.
Exit codes: 0 success, 1 a negative verdict (not reproducible, stale),
2 bad input or usage. An unexpected exception is a bug and says so.
"""

from __future__ import annotations

import sys
import traceback

import click

from . import __version__
from .errors import P2NError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="p2n")
def cli() -> None:
    """pyproject2nix: turn a Python lock file into a static, hash-pinned Nix flake.

    \b
    p2n generate   write flake.nix + p2n/ from pyproject.toml and uv.lock
    p2n verify     build the environment twice in separate stores, compare
    """


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
    except P2NError as exc:
        click.echo(f"p2n: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Exception:
        traceback.print_exc()
        click.echo(
            "p2n: internal error (this is a bug in p2n; please report it with the trace above)",
            err=True,
        )
        sys.exit(3)
    sys.exit(0)
