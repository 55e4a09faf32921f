"""The one exception hierarchy of p2n.

Errors are raised deep and caught once, in the CLI. Messages say what went
wrong, where (file, package, key path) and how to fix it, on one line.
"""

from __future__ import annotations


class P2NError(Exception):
    """Root of every error p2n reports to the user (exit code 2 unless set otherwise)."""

    exit_code = 2


class InputError(P2NError):
    """A lock file, pyproject.toml or command-line argument that p2n cannot use."""


class SelectionError(InputError):
    """No usable file (wheel) for a package on a target system/interpreter."""


class HashMismatchError(InputError):
    """A file's sha256 in the lock differs from the one its index (or the record) gives."""


class OutputError(P2NError):
    """The generated files cannot be written (e.g. would overwrite a foreign flake.nix)."""


class IndexQueryError(P2NError):
    """A package index could not say where a file lives (unreachable, 404, auth, offline)."""


class NixError(P2NError):
    """Running Nix failed in a way that is not a verdict (missing binary, bad flake reference)."""


class VerdictError(P2NError):
    """A negative verdict (stale files, not reproducible): exit code 1, not an input error."""

    exit_code = 1
