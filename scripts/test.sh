#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian 12 machine: installs dependencies, builds, and
# runs every CTest label (unit, fuzz replay, netns, packaging). netns and packaging tests need
# root (packaging installs and purges the .deb); as non-root they are skipped. Extra arguments
# go to ctest (e.g. -L unit).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
build=${CARPD_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure --timeout 900 "$@"
