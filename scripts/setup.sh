#!/usr/bin/env bash
# Set up p2n on Debian 12 (or a derivative): Nix and the tools the tests use,
# then a virtualenv in .venv with p2n installed (editable) and its dev tools.
# Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(nix-bin patchelf bash-static busybox-static diffoscope-minimal python3-venv git ca-certificates curl
  # p2n verify's perturbations and its tests: directory order, time zone, CPU affinity;
  # sshd for the loopback ssh-ng:// store test; chromium renders the --html report.
  disorderfs fuse3 tzdata util-linux openssh-server openssh-client chromium fonts-dejavu-core
  # The OCI image test: skopeo and podman read the image, bwrap runs it.
  podman skopeo bubblewrap)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  # Another apt run may hold the lock for a while: retry rather than fail.
  for attempt in 1 2 3 4 5 6; do
    if $sudo apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        -o DPkg::Lock::Timeout=120 "${missing[@]}" >/dev/null; then
      break
    fi
    [ "$attempt" -lt 6 ] || { echo "setup: apt-get install failed" >&2; exit 1; }
    echo "setup: apt-get busy or failed, retrying in 20 s" >&2
    sleep 20
  done
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

# A second build-users group with other uids: `p2n verify` builds its second
# run as these users (the build-user perturbation, docs/verify.md).
if [ "$(id -u)" -eq 0 ] && ! getent group p2nbld >/dev/null; then
  groupadd --force --system p2nbld
  for n in $(seq 1 8); do
    id "p2nbld$n" >/dev/null 2>&1 ||
      useradd --system --comment "p2n verify build user $n" --home-dir /var/empty \
        --gid p2nbld --groups p2nbld --no-user-group --shell /usr/sbin/nologin "p2nbld$n"
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
# The schemas of GitHub's action and workflow files, for tests/test_action.py
# (a test tool, not a dependency of p2n: kept out of pyproject.toml and uv.lock).
.venv/bin/python -m pip install -q --disable-pip-version-check check-jsonschema==0.39.0 2>&1 |
  grep -v -E "^WARNING: Location .* is ignored" || true
# The installer that builds pin (nix/installer.nix), so mypy checks nix/*.py against it
# (kept out of pyproject.toml for the same reason).
.venv/bin/python -m pip install -q --disable-pip-version-check installer==1.1.0 2>&1 |
  grep -v -E "^WARNING: Location .* is ignored" || true
.venv/bin/p2n --version >/dev/null
