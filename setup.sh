#!/usr/bin/env bash
# Install what building and testing rkube needs on a fresh Debian 12 machine of our kind.
# Idempotent: installs only what is missing. Run as root (or with sudo).
set -euo pipefail

packages=(protobuf-compiler python3-venv)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# The Python `kubernetes` client, for the client-library tests, in a virtualenv inside target/.
venv=target/pyenv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import kubernetes' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q kubernetes
fi
command -v kubectl >/dev/null || { echo "setup: kubectl is required (expected /usr/bin/kubectl)" >&2; exit 1; }
echo "setup: ok"
