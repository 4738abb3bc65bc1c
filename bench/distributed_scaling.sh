#!/bin/sh
# Data-parallel scaling on this machine (issue 6): the same SGD steps of a small convolutional
# network on combined batches of 16 images (64x64), run by 1 process and by 2 processes (Gloo on
# 127.0.0.1, 8 images each, gradients averaged by the bucketed, overlapping GradientReducer).
# The ranks are started torchrun-style, with RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR /
# MASTER_PORT, as on several machines (docs/distributed.md). The workload lives in the engine
# test program (DistributedWorker, mode "bench"), so no extra build target is needed.
#
# usage: bench/distributed_scaling.sh [BUILD_DIR]     (BUILD_DIR: default ./build)
# environment: MBMD_BENCH_STEPS (default 20), MBMD_BENCH_BATCH (default 16), REPEATS (default 3)
#
# On the 2-core development VMs this shows correctness (both runs end with the same weights:
# equal "weights |sum|") rather than speed-up: one process already uses both cores for its
# intra-op threads, and two ranks with one thread each share the same two cores and add the
# all-reduce on top. Run it on a machine with more cores (or several machines) for speed-up.
set -eu
BUILD=${1:-build}
BIN="$BUILD/tests/mbmd_dist_tests"
[ -x "$BIN" ] || { echo "no $BIN: build the target mbmd_dist_tests first" >&2; exit 2; }
REPEATS=${REPEATS:-3}
CORES=$(nproc)
FILTER="--gtest_filter=DistributedWorker.DISABLED_Run --gtest_also_run_disabled_tests"
PORT=$((29600 + $$ % 1000))
export MBMD_DIST_TEST_MODE=bench MBMD_DIST_TEST_OUT=/dev/null MBMD_DIST_TEST_TIMEOUT_MS=120000

one() {  # one process with $1 intra-op threads
  env -u RANK -u WORLD_SIZE OMP_NUM_THREADS=$1 "$BIN" $FILTER 2>/dev/null | grep RESULT
}
two() {  # two ranks, half the cores each
  PORT=$((PORT + 1))
  T=$(( CORES / 2 > 0 ? CORES / 2 : 1 ))
  RANK=1 WORLD_SIZE=2 LOCAL_RANK=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=$PORT OMP_NUM_THREADS=$T \
    "$BIN" $FILTER >/dev/null 2>&1 &
  RANK=0 WORLD_SIZE=2 LOCAL_RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=$PORT OMP_NUM_THREADS=$T \
    "$BIN" $FILTER 2>/dev/null | grep RESULT
  wait
}
echo "machine: $CORES cores, load $(cut -d" " -f1 /proc/loadavg); 1 process ($CORES threads, 1 thread) vs 2 processes, interleaved, $REPEATS repeats"
i=0
while [ $i -lt "$REPEATS" ]; do
  one "$CORES"
  one 1
  two
  i=$((i + 1))
done
