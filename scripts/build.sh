#!/usr/bin/env bash
# Configures and builds mbmd in ./build (Release, ccache, two jobs: one LibTorch translation unit
# needs about 1.2 GB of memory).
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"${MBMD_JOBS:-2}"
