#!/bin/bash
# The GPU check (docs/performance.md, "On a GPU"), one command on a machine with an NVIDIA GPU:
#   1. builds the core (ops, io, model and the benchmark) against the LibTorch inside the machine's
#      PyTorch with CUDA, with our CUDA kernels for RoIAlign and NMS;
#   2. runs the ops, io and model tests there: the CUDA ones (RoIAlign and NMS against the CPU
#      kernels, the torchvision parity checks on CUDA tensors) and everything else against that
#      PyTorch's torchvision;
#   3. times mbmd against torchvision's fasterrcnn_resnet50_fpn on the same GPU: inference latency
#      at 800x1333 and training images per second, and prints the Markdown table.
#
#   bash bench/gpu_check.sh [OUT_DIR]      (default build-cuda/gpu-check)
#
# Environment: PYTHON, an interpreter with torch and torchvision built for CUDA (python3);
# GTEST_SOURCE, GoogleTest's sources (/usr/src/googletest); JSON_PREFIX, a prefix holding
# nlohmann_json's CMake package when the system has none; CUDA_ARCH (90, Hopper); BUILD_DIR
# (build-cuda); GPU_RUNS, timed runs per measurement (20); GPU_ROUNDS (2); GPU_WHOLE (0).
# The data layer (PNG, DICOM) is left out here: GPU_WHOLE=1 then runs bench/gpu_whole.sh (the whole
# program with the data layer, from the .debs of bench/gpu_deps.sh) into OUT_DIR/whole; alone it
# takes about 8 minutes, so on a 10-minute command run it by itself. Without GoogleTest's sources
# or nlohmann_json on the machine, both are taken from those .debs (.gpu-deps/debs) when present.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-cuda}
OUT_DIR=${1:-$BUILD/gpu-check}
PY=${PYTHON:-python3}
RUNS=${GPU_RUNS:-20}
ROUNDS=${GPU_ROUNDS:-2}
JOBS=$(nproc)
mkdir -p "$OUT_DIR" "$BUILD"
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
fail() {
  log "FAILED: $*"
  exit 1
}

read -r TORCH_PREFIX TORCH_VERSION TV_VERSION GPU_NAME < <($PY -c '
import torch, torchvision
assert torch.cuda.is_available(), "this PyTorch sees no CUDA device"
print(torch.utils.cmake_prefix_path, torch.__version__, torchvision.__version__,
      torch.cuda.get_device_name(0).replace(" ", "_"))') || fail "$PY: no torch/torchvision with CUDA"
log "torch $TORCH_VERSION, torchvision $TV_VERSION, GPU $GPU_NAME, $JOBS cores"

# nvcc outside PATH is common (/usr/local/cuda/bin); CMake and Torch's package both need it.
if ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then
  export PATH=$PATH:/usr/local/cuda/bin
fi
GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
DEPS=$BUILD/deps
# GoogleTest's sources and nlohmann_json from the carried .debs when the system lacks them.
if [[ -z ${GTEST_SOURCE:-} && ! -d /usr/src/googletest && -d $ROOT/.gpu-deps/debs ]]; then
  if [[ ! -f $BUILD/deps-root/.unpacked ]]; then
    { bash "$ROOT/bench/gpu_deps.sh" unpack "$BUILD/deps-root" 2>"$OUT_DIR/deps.log" &&
      touch "$BUILD/deps-root/.unpacked"; } || fail "unpacking .gpu-deps/debs, see $OUT_DIR/deps.log"
  fi
  GTEST_SOURCE=$BUILD/deps-root/usr/src/googletest
  JSON_PREFIX=${JSON_PREFIX:-$BUILD/deps-root/usr}
  log "GoogleTest and nlohmann_json from $BUILD/deps-root"
fi
if [[ ! -d $DEPS/lib/cmake/GTest ]]; then
  log "GoogleTest from ${GTEST_SOURCE:-/usr/src/googletest}"
  { cmake -S "${GTEST_SOURCE:-/usr/src/googletest}" -B "$BUILD/gtest-build" "${GENERATOR[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DBUILD_GMOCK=OFF -DCMAKE_INSTALL_PREFIX="$DEPS" \
    -DCMAKE_INSTALL_LIBDIR=lib && cmake --build "$BUILD/gtest-build" -j "$JOBS" &&
    cmake --install "$BUILD/gtest-build"; } >"$OUT_DIR/gtest.log" 2>&1 ||
    fail "GoogleTest build, see $OUT_DIR/gtest.log"
fi

log "configure against $TORCH_PREFIX"
cmake -S "$ROOT" -B "$BUILD" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$DEPS;${JSON_PREFIX:-}" -DMBMD_WITH_DATA=OFF \
  -DMBMD_WERROR=OFF -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}" >"$OUT_DIR/configure.log" 2>&1 ||
  { tail -n 40 "$OUT_DIR/configure.log"; fail "configure"; }
grep -q "mbmd: CUDA kernels" "$OUT_DIR/configure.log" ||
  log "warning: LibTorch gave no CUDA libraries, so the CUDA kernels are not part of this build"

log "build"
cmake --build "$BUILD" -j "$JOBS" --target mbmd_ops_tests mbmd_io_tests mbmd_model_tests \
  mbmd_bench >"$OUT_DIR/build.log" 2>&1 ||
  { grep -m 20 -B 2 -A 8 "error" "$OUT_DIR/build.log"; fail "build, see $OUT_DIR/build.log"; }
grep -c "warning:" "$OUT_DIR/build.log" | xargs -I{} echo "{} compiler warnings (build.log)" >&2

# PyTorch's pip wheels (2.5 and later) export the copy of libstdc++'s std::filesystem that they
# link statically (pytorch/pytorch#133437). Our programs list libtorch before libstdc++, bind to
# that copy and crash in std::filesystem calls (seen with torch 2.11: remove_all in the io and
# model tests). Loading the system's libstdc++ first keeps its own; linking it first did not
# change the load order with Ubuntu's linker.
STDCXX=$(${CXX:-c++} -print-file-name=libstdc++.so.6)
RUN=(env "LD_PRELOAD=$STDCXX")
log "tests (LD_PRELOAD=$STDCXX)"
export MBMD_PYTHON=$PY
TESTS_OK=1
for layer in ops io model; do
  if "${RUN[@]}" "$BUILD/tests/mbmd_${layer}_tests" >"$OUT_DIR/test_$layer.log" 2>&1; then
    log "$layer: $(grep -E '^\[  PASSED  \]' "$OUT_DIR/test_$layer.log")"
  else
    TESTS_OK=0
    log "$layer: FAILED"
    grep -E "^\[  FAILED  \]|Failure|error" "$OUT_DIR/test_$layer.log" | head -n 30 >&2
  fi
  grep -E "Skipped|SKIPPED \]" "$OUT_DIR/test_$layer.log" | head -n 5 >&2
done
# The CUDA checks' own lines, for the record.
grep -h -E "Cuda.*(OK|FAILED)|\(cuda:0\)|detections matched" "$OUT_DIR"/test_*.log >&2

log "timings, $ROUNDS rounds of $RUNS runs"
RESULTS=$OUT_DIR/results.jsonl
echo "{\"mode\": \"machine\", \"date\": \"$(date -u +%Y-%m-%dT%H:%MZ)\", \"gpu\": \"${GPU_NAME//_/ }\"," \
  "\"torch\": \"$TORCH_VERSION\", \"torchvision\": \"$TV_VERSION\", \"cores\": $JOBS}" >"$RESULTS"
TV="$PY $ROOT/tools/bench_torchvision.py --threads $JOBS --device cuda"
BENCH="${RUN[*]} $BUILD/bench/mbmd_bench --threads $JOBS --device cuda"
WEIGHTS=$BUILD/torchvision_fasterrcnn_r50_fpn.pth
$PY "$ROOT/tools/bench_torchvision.py" save-weights "$WEIGHTS" >/dev/null || fail "save-weights"
record() { "$@" | sed "s/^{/{\"round\": $round, /" >>"$RESULTS" || log "failed: $*"; }
for ((round = 1; round <= ROUNDS; round++)); do
  record $TV infer --sizes 800x1333 --runs "$RUNS" --warmup 5
  record $BENCH infer --config torchvision_fasterrcnn_r50_fpn --set model.num_classes=90 \
    --weights "$WEIGHTS" --sizes 800x1333 --runs "$RUNS" --warmup 5
  record $BENCH infer --config faster_rcnn_r50_fpn --sizes 800x1333 --runs "$RUNS" --warmup 5
  record $BENCH infer --config mbmdnet_r50_mhfpn --sizes 800x1333 --runs "$RUNS" --warmup 5
  record $TV train --size 800x1333 --batch 2 --steps "$RUNS" --warmup 3
  record $BENCH train --config faster_rcnn_r50_fpn --size 800x1333 --batch 2 --steps "$RUNS" \
    --warmup 3
  record $BENCH train --config mbmdnet_r50_mhfpn --size 800x1333 --batch 2 --steps "$RUNS" \
    --warmup 3
done
$PY "$ROOT/tools/bench_torchvision.py" summarize-gpu "$RESULTS" | tee "$OUT_DIR/summary.md"

WHOLE_OK=1
if [[ ${GPU_WHOLE:-0} == 1 ]]; then
  log "the whole program (bench/gpu_whole.sh) into $OUT_DIR/whole"
  bash "$ROOT/bench/gpu_whole.sh" "$OUT_DIR/whole" || WHOLE_OK=0
fi

((TESTS_OK)) || fail "tests (logs in $OUT_DIR)"
((WHOLE_OK)) || fail "bench/gpu_whole.sh (see $OUT_DIR/whole/summary.md)"
log "done: tests passed; results in $OUT_DIR"
