#!/usr/bin/env bash
# The test command (README, .ci/run): set up, lint, type-check, run every test
# including the real-Nix integration tests. Pass pytest arguments through,
# e.g. `scripts/test.sh -m "not nix"` for the fast subset.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

.venv/bin/ruff check pyproject2nix tests bench nix
.venv/bin/p2n check --project .  # the repo's own flake.nix + p2n/ (made by p2n) are fresh
.venv/bin/mypy --strict pyproject2nix tests
# The builder scripts run inside builds on the target interpreter, 3.10 at the oldest;
# they are loose scripts, not a package (pyproject.toml's ruff config targets py310 too).
.venv/bin/mypy --strict --python-version 3.10 --explicit-package-bases nix/*.py
# pytest exits 5 when no test ran: that is a failure here, never a pass.
.venv/bin/pytest -q -p no:cacheprovider "$@"
