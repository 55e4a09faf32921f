#!/usr/bin/env bash
# Set up p2n on Debian 12 (or a derivative): Nix and the tools the tests use,
# then a virtualenv in .venv with p2n installed (editable) and its dev tools.
# Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(nix-bin patchelf bash-static busybox-static diffoscope-minimal python3-venv git ca-certificates curl)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Build users, as Debian's nix-setup-systemd creates them (that package pulls in
# systemd, so it is not installed): root's builds run as nixbld1..10, and Nix
# refuses to build when the group is missing.
if ! getent group nixbld >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo groupadd --force --system nixbld
  for n in $(seq 1 10); do
    id "nixbld$n" >/dev/null 2>&1 ||
      $sudo useradd --system --comment "Nix build user $n" --home-dir /var/empty \
        --gid nixbld --groups nixbld --no-user-group --shell /usr/sbin/nologin "nixbld$n"
  done
fi

# The newest python3 on PATH that is >= 3.11 (Debian 12 ships 3.11).
python=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null &&
    "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python="$candidate"
    break
  fi
done
[ -n "$python" ] || { echo "setup: need Python >= 3.11" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 |
  grep -v -E "^WARNING: Location .* is ignored" || true
.venv/bin/p2n --version >/dev/null
