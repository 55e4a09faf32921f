#!/usr/bin/env bash
# README command 1: set up, generate the flake of examples/hello, build its
# environment with Nix and run the project's console script from the result.
#
# nixpkgs comes from GitHub as the generated flake says; where GitHub cannot
# be reached (as on our CI machines) the test stand-in for nixpkgs, built from
# this machine's Python, replaces it with --override-input.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# Builds run in the sandbox, as on NixOS (Debian's nix-bin defaults to sandbox = false).
export NIX_CONFIG="${NIX_CONFIG:-experimental-features = nix-command flakes
sandbox = true}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r examples/hello/pyproject.toml examples/hello/uv.lock examples/hello/src "$work/"

.venv/bin/p2n generate --project "$work"

override=()
if ! curl -sf --max-time 5 -o /dev/null https://github.com/NixOS/nixpkgs; then
  echo "demo: GitHub unreachable; using the nixpkgs stand-in (tests/support/standin.py)" >&2
  export NIX_CONFIG="$NIX_CONFIG
substituters =
flake-registry ="
  .venv/bin/python -m tests.support.standin "$work/nixpkgs-standin" >/dev/null
  override=(--override-input nixpkgs "path:$work/nixpkgs-standin")
fi

nix build "path:$work" "${override[@]}" -o "$work/result" 2>&1 | grep -v "not writing modified lock file\|Added input\|lastModified=" || true
"$work/result/bin/hello-p2n"
