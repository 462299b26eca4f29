#!/usr/bin/env bash
# Install what building and testing rkube needs on a fresh Debian 12 machine of our kind.
# Idempotent: installs only what is missing. Run as root (or with sudo).
set -euo pipefail
cd "$(dirname "$0")"

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

# The Python `kubernetes` client, for the client-library tests (crates/rkube/tests/python_client.rs),
# in a virtualenv inside target/. Pinned to the release that matches the Kubernetes version rkube
# serves, so every machine tests the same client. A broken or stale venv is made anew.
venv=target/pyenv
py_client=33.1.0
if ! "$venv/bin/python" -c "import kubernetes, sys; sys.exit(kubernetes.__version__ != '$py_client')" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  for attempt in 1 2 3; do
    "$venv/bin/pip" install -q --disable-pip-version-check "kubernetes==$py_client" && break
    [ "$attempt" -lt 3 ] || { echo "setup: pip could not install kubernetes==$py_client" >&2; exit 1; }
    sleep 5
  done
  "$venv/bin/python" -c 'import kubernetes' || { echo "setup: the kubernetes client does not import" >&2; exit 1; }
fi
command -v kubectl >/dev/null || { echo "setup: kubectl is required (expected /usr/bin/kubectl)" >&2; exit 1; }
echo "setup: ok"
