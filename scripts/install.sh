#!/usr/bin/env bash
# Installs everything tuneloop needs on Debian 12 with Node.js 20, as root (or with sudo):
#  - Debian packages: oneDNN for the native engine (libdnnl-dev), a C++ toolchain for node-gyp, and
#    PyTorch for the benchmark's peer (python3-torch; only `npm run bench` uses it);
#  - npm packages, which also builds the native addon (scripts/build-native.mjs).
# Safe to run again: installed packages are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libdnnl-dev g++ make python3)
# The peer needs OpenBLAS: python3-torch alone pulls the reference BLAS, about 20x slower in fp32.
if [ "${TUNELOOP_SKIP_PEER:-0}" != "1" ]; then packages+=(python3-torch libopenblas0-pthread); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  echo "[install] Debian packages: ${missing[*]}" >&2
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

echo "[install] npm ci (builds the native addon)" >&2
npm ci --no-audit --no-fund
