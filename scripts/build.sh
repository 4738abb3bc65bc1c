#!/usr/bin/env bash
# Configures and builds mbmd in ./build (Release, ccache, precompiled LibTorch header, two jobs:
# one LibTorch translation unit needs about 1.2 GB of memory).
# Usage: bash scripts/build.sh [TARGET...]   (default: the program `mbmd` alone; `all` builds the
# tests and benchmarks too, as scripts/test.sh does). MBMD_CMAKE_ARGS adds configure options.
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
# shellcheck disable=SC2086
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${MBMD_CMAKE_ARGS:-} >/dev/null
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(mbmd)
cmake --build build -j"${MBMD_JOBS:-2}" --target "${targets[@]}"
