#!/usr/bin/env bash
# The test command: installs dependencies, builds, and runs every test not labelled slow.
# Pass `-L slow` (or any ctest arguments) to choose other tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(-LE slow)
ctest --test-dir build --output-on-failure -j2 "${args[@]}"
