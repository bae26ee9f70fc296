#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian 12 machine: installs dependencies, then builds and
# tests two trees (CI runs exactly this):
#   build/       RelWithDebInfo, hardened as the Debian package is: CTest labels fuzz (corpus
#                replay) and packaging (the .deb is built, installed, run and purged)
#   build-asan/  -DCARPD_SANITIZE=ON (AddressSanitizer + UndefinedBehaviorSanitizer): unit, fuzz
#                and netns. The unit and netns suites run only here, under the sanitizers, so
#                that CI builds the ~50 unit-test programs once.
# netns and packaging tests need root; as non-root they are skipped.
#
# CARPD_TEST_TREES=plain|asan|both chooses the trees (default: both; plain when arguments are
# given). Arguments go to ctest on the plain tree in place of its labels, and then the plain tree
# builds the unit tests too, e.g.
#   scripts/test.sh -L unit
# CARPD_BUILD_DIR / CARPD_ASAN_BUILD_DIR move the trees. ccache is used when installed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

if [ $# -gt 0 ]; then
  trees=${CARPD_TEST_TREES:-plain}
else
  trees=${CARPD_TEST_TREES:-both}
fi
case "$trees" in
  plain | asan | both) ;;
  *)
    echo "test.sh: CARPD_TEST_TREES must be plain, asan or both, not '$trees'" >&2
    exit 2
    ;;
esac

jobs=$(nproc)
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCARPD_WERROR=ON)
if command -v ccache >/dev/null; then
  cmake_args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
# ctest -j runs the unit and fuzz tests side by side; the netns tests are RUN_SERIAL, so CTest
# runs each of them alone whatever -j says.
ctest_args=(--output-on-failure --timeout 900 -j"$jobs")

elapsed() { echo "test.sh: $1 in $((SECONDS - $2)) s"; }

status=0
if [ "$trees" != asan ]; then
  build=${CARPD_BUILD_DIR:-build}
  start=$SECONDS
  unit_tests=ON
  # With both trees the sanitizer tree runs the unit tests: do not build them twice.
  [ $# -eq 0 ] && [ "$trees" = both ] && unit_tests=OFF
  cmake -S . -B "$build" "${cmake_args[@]}" -DCARPD_UNIT_TESTS="$unit_tests" >/dev/null
  cmake --build "$build" -j"$jobs"
  elapsed "plain build ($build)" "$start"
  start=$SECONDS
  if [ $# -gt 0 ]; then
    ctest --test-dir "$build" "${ctest_args[@]}" "$@" || status=1
  else
    ctest --test-dir "$build" "${ctest_args[@]}" -L "$([ $unit_tests = ON ] && echo 'unit|')fuzz|packaging" || status=1
  fi
  elapsed "plain tests" "$start"
fi

if [ "$trees" != plain ]; then
  build=${CARPD_ASAN_BUILD_DIR:-build-asan}
  start=$SECONDS
  # No benchmarks here: timings under the sanitizers mean nothing.
  # -O1 -g1: the optimisation level ASan recommends and line tables for its stack traces;
  # compiles in about half the time of -O2 -g (measured on engine.cc and engine_test.cc).
  cmake -S . -B "$build" "${cmake_args[@]}" -DCARPD_SANITIZE=ON -DCARPD_BENCH=OFF \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" >/dev/null
  cmake --build "$build" -j"$jobs"
  elapsed "sanitizer build ($build)" "$start"
  start=$SECONDS
  ctest --test-dir "$build" "${ctest_args[@]}" -L 'unit|fuzz|netns' || status=1
  elapsed "sanitizer tests" "$start"
fi
exit "$status"
