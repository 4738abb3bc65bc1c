#!/usr/bin/env bash
# Builds mbmd and its tests with AddressSanitizer and UndefinedBehaviorSanitizer in ./build-asan
# (CMake option MBMD_SANITIZE, RelWithDebInfo, no benchmarks) and runs the same tests as
# scripts/test.sh under them (it installs nothing: run scripts/install-deps.sh first). A memory
# error, a leak (ASan, LeakSanitizer) or undefined behaviour (UBSan, -fno-sanitize-recover) ends
# the process that has it, in a test or in a program a test starts, and fails the run (for UBSan
# in a started program, see below).
# Usage: bash scripts/sanitize.sh [CTEST_ARGS...]   (`-R Pickle`, `-L io`; default: every test).
# MBMD_CMAKE_ARGS adds configure options, MBMD_JOBS sets the jobs (default 2), MBMD_NO_BUILD=1
# skips the build. The suppressions in scripts/sanitize/ name third-party code only
# (docs/reliability.md, "Sanitizer runs"). A full build takes about an hour on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
supp="$PWD/scripts/sanitize"
if [ "${MBMD_NO_BUILD:-0}" != 1 ]; then
  # shellcheck disable=SC2086
  cmake -S . -B build-asan -DCMAKE_CXX_COMPILER=g++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMBMD_SANITIZE=ON -DMBMD_BUILD_BENCH=OFF \
    ${MBMD_CMAKE_ARGS:-} >/dev/null
  cmake --build build-asan -j"${MBMD_JOBS:-2}"
fi
# The programs the tests start (mbmd, its DICOM decoder) are built with the sanitizers too and
# read the same options (Python and other system programs ignore them). Every ASan and LSan report
# goes to a file in build-asan/sanitizer-reports, so that one from a child process whose exit
# status a test expects to be an error still fails the run; the reports are printed at the end.
# GCC's UBSan runtime ignores log_path next to ASan: its reports go to the process's stderr, and
# it exits with status 99, which a test that expects mbmd's error status 1 does not accept.
reports="$PWD/build-asan/sanitizer-reports"
rm -rf "$reports"
mkdir -p "$reports"
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1:\
check_initialization_order=1:detect_stack_use_after_return=0:log_path=$reports/asan"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="suppressions=$supp/ubsan.supp:print_stacktrace=1:halt_on_error=1:\
exitcode=99"
status=0
ctest --test-dir build-asan --output-on-failure -j"${MBMD_JOBS:-2}" "$@" || status=$?
if compgen -G "$reports/*" >/dev/null; then
  for report in "$reports"/*; do
    printf '\n==== %s\n' "$report"
    cat "$report"
  done
  echo "sanitize.sh: $(find "$reports" -type f | wc -l) sanitizer report(s) in $reports" >&2
  status=1
fi
exit "$status"
