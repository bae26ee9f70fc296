#!/usr/bin/env bash
# Build carpd and run a live two-host CARP failover demo in network namespaces (needs root).
#   scripts/demo.sh              build into ./build, then run the demo
#   BUILD_DIR=out scripts/demo.sh
#   SKIP_BUILD=1 scripts/demo.sh use an existing build
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
cd "$root"

if [ "$(id -u)" -ne 0 ]; then
  echo "demo.sh: the demo creates network namespaces and needs root; try: sudo $0" >&2
  exit 2
fi
# A fresh Debian 12 machine has only the compiler toolchain: install what the build and the demo
# use (ping, tshark, iproute2, the libraries), as scripts/test.sh does. Idempotent and quick
# when everything is there.
bash "$root/scripts/setup.sh"
for tool in ip ping python3 cmake; do
  command -v "$tool" >/dev/null || { echo "demo.sh: $tool not found after scripts/setup.sh" >&2; exit 2; }
done

if [ "${SKIP_BUILD:-0}" != "1" ]; then
  echo "==> building carpd and carpctl in $build"
  cmake -S . -B "$build" >/dev/null
  cmake --build "$build" -j"$(nproc)" --target carpd carpctl
fi

echo "==> running the demo"
exec python3 "$root/tests/netns/demo.py" --build "$build"
