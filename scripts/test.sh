#!/usr/bin/env bash
# The test command: installs dependencies, builds everything (the program, the tests and the
# benchmarks), and runs every test, the layout limits of scripts/check-layout.sh among them.
# Pass ctest arguments to choose tests (`-R Trainer`, `-L data`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh all
ctest --test-dir build --output-on-failure -j2 "$@"
