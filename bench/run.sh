#!/usr/bin/env bash
# The performance harness: mbmd against torchvision's fasterrcnn_resnet50_fpn on this machine, at
# the same thread count, the two sides interleaved round by round (timings on shared VMs drift up
# to 1.5x between processes), medians reported. docs/performance.md explains every number.
#
#   bash bench/run.sh                 # about 25 minutes on an idle 2-core machine
#   BENCH_ROUNDS=1 BENCH_RUNS=2 BENCH_SWEEP_RUNS=1 bash bench/run.sh  # a quick look
#
# Environment: BENCH_BUILD (build folder, default build-bench), BENCH_THREADS (2), BENCH_ROUNDS (3
# latency rounds; training, size and predict phases use at most 2), BENCH_RUNS (timed runs per
# process: 3), BENCH_SWEEP_RUNS (timed runs per size in the sweep: 2), BENCH_OUT (results folder),
# BENCH_SKIP_BUILD=1 to use the binaries as they are, BENCH_FILMS and BENCH_FILM_COUNT (the
# predict phase's films: ../shared/data/mini-mias, 100). OPENBLAS_CORETYPE is left as the
# environment sets it and recorded.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BENCH_BUILD:-$ROOT/build-bench}
THREADS=${BENCH_THREADS:-2}
ROUNDS=${BENCH_ROUNDS:-3}
SHORT_ROUNDS=$((ROUNDS < 2 ? ROUNDS : 2))
RUNS=${BENCH_RUNS:-3}
SWEEP_RUNS=${BENCH_SWEEP_RUNS:-$((RUNS < 2 ? RUNS : 2))}
OUT=${BENCH_OUT:-$BUILD/bench-results}
PY=/usr/bin/python3
TV="$PY $ROOT/tools/bench_torchvision.py --threads $THREADS"

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j2 --target mbmd_bench
  # `mbmd predict` is measured when the program builds; a failure only skips that phase.
  cmake --build "$BUILD" -j2 --target mbmd >/dev/null 2>&1 || echo "note: mbmd did not build"
fi
BENCH="$BUILD/bench/mbmd_bench --threads $THREADS"

mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: >"$RESULTS"
log() { echo "[$(date +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)] $*" >&2; }
# Runs one side's command and tags every JSON line it prints with the round and phase.
PHASE=setup
record() {
  local round=$1
  shift
  "$@" | sed "s/^{/{\"round\": $round, \"phase\": \"$PHASE\", /" >>"$RESULTS"
}

{
  echo "{\"mode\": \"machine\", \"date\": \"$(date -u +%Y-%m-%dT%H:%MZ)\","
  echo " \"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')\","
  echo " \"cores\": $(nproc), \"threads\": $THREADS,"
  echo " \"openblas_coretype\": \"${OPENBLAS_CORETYPE:-unset}\","
  echo " \"blas\": \"$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)\","
  echo " \"load_start\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
} | tr -d '\n' >>"$RESULTS"
echo >>"$RESULTS"

WEIGHTS="$OUT/torchvision_fasterrcnn_r50_fpn.pth"
log "torchvision weights (seeded, weights=None) -> $WEIGHTS"
$TV save-weights "$WEIGHTS" >/dev/null
TVCOMPAT=(--config torchvision_fasterrcnn_r50_fpn --set model.num_classes=90 --weights "$WEIGHTS")
# mbmd in runtime.precision=bf16 (falls back to fp32, and says so, on a CPU without BF16).
BF16="--set runtime.precision=bf16"

log "matrix-multiply peak and FLOP counts"
record 0 $BENCH mm --n 4096 --runs 5
for config in faster_rcnn_r50_fpn mbmdnet_r50_mhfpn; do
  record 0 $BENCH flops --config $config --size 800x1333 --runs 3
done

# Latency and peak memory at 800x1333: one process per side per round, the order alternating.
PHASE=latency
for ((r = 1; r <= ROUNDS; r++)); do
  log "latency round $r/$ROUNDS"
  sides=(tv compat fpn mhfpn compat16 fpn16 mhfpn16)
  ((r % 2 == 0)) && sides=(mhfpn16 fpn16 compat16 mhfpn fpn compat tv)
  for side in "${sides[@]}"; do
    case $side in
      tv) record $r $TV infer --sizes 800x1333 --runs $RUNS --warmup 1 ;;
      compat) record $r $BENCH infer "${TVCOMPAT[@]}" --sizes 800x1333 --runs $RUNS --warmup 1 ;;
      fpn) record $r $BENCH infer --config faster_rcnn_r50_fpn --sizes 800x1333 --runs $RUNS ;;
      mhfpn) record $r $BENCH infer --config mbmdnet_r50_mhfpn --sizes 800x1333 --runs $RUNS ;;
      compat16) record $r $BENCH infer "${TVCOMPAT[@]}" $BF16 --sizes 800x1333 --runs $RUNS \
        --warmup 1 ;;
      fpn16) record $r $BENCH infer --config faster_rcnn_r50_fpn $BF16 --sizes 800x1333 \
        --runs $RUNS ;;
      mhfpn16) record $r $BENCH infer --config mbmdnet_r50_mhfpn $BF16 --sizes 800x1333 \
        --runs $RUNS ;;
    esac
  done
done

# One training step (forward, backward, SGD) with one box.
PHASE=train
for ((r = 1; r <= SHORT_ROUNDS; r++)); do
  log "training round $r/$SHORT_ROUNDS"
  sides=(tv fpn mhfpn fpn16 mhfpn16)
  ((r % 2 == 0)) && sides=(mhfpn16 fpn16 mhfpn fpn tv)
  for side in "${sides[@]}"; do
    case $side in
      tv) record $r $TV train --size 800x1333 --steps $RUNS --warmup 1 ;;
      fpn) record $r $BENCH train --config faster_rcnn_r50_fpn --size 800x1333 --steps $RUNS ;;
      mhfpn) record $r $BENCH train --config mbmdnet_r50_mhfpn --size 800x1333 --steps $RUNS ;;
      fpn16) record $r $BENCH train --config faster_rcnn_r50_fpn $BF16 --size 800x1333 \
        --steps $RUNS ;;
      mhfpn16) record $r $BENCH train --config mbmdnet_r50_mhfpn $BF16 --size 800x1333 \
        --steps $RUNS ;;
    esac
  done
done

# Inference time against input size (short side 512, 800, 1024, 1600; the 800x1333 aspect).
SIZES=512x853,800x1333,1024x1706,1600x2666
PHASE=sweep
for ((r = 1; r <= SHORT_ROUNDS; r++)); do
  log "input-size round $r/$SHORT_ROUNDS"
  if ((r % 2 == 1)); then
    record $r $TV infer --sizes $SIZES --runs $SWEEP_RUNS --warmup 1
    record $r $BENCH infer --config faster_rcnn_r50_fpn --sizes $SIZES --runs $SWEEP_RUNS --warmup 1
  else
    record $r $BENCH infer --config faster_rcnn_r50_fpn --sizes $SIZES --runs $SWEEP_RUNS --warmup 1
    record $r $TV infer --sizes $SIZES --runs $SWEEP_RUNS --warmup 1
  fi
done

# Throughput of `mbmd predict`, in fp32 and bf16, over mini-MIAS films (BENCH_FILMS, default
# ../shared/data/mini-mias; the first BENCH_FILM_COUNT of its PNGs, 100), decoding included,
# against a torchvision loop (read_image + model) over the same files with the same weights.
# Without the films, 8 generated PNGs of 1024x832 stand in, and the row says so.
MBMD="$BUILD/mbmd"
if [[ -x "$MBMD" ]] && "$MBMD" --help 2>&1 | grep -q predict; then
  IMAGES="$OUT/images"
  rm -rf "$IMAGES"
  mkdir -p "$IMAGES"
  FILMS=${BENCH_FILMS:-$ROOT/../shared/data/mini-mias}
  find "$FILMS" -maxdepth 1 -name '*.png' 2>/dev/null | sort | head -n "${BENCH_FILM_COUNT:-100}" |
    while read -r film; do ln -s "$(readlink -f "$film")" "$IMAGES/"; done
  COUNT=$(find "$IMAGES" -name '*.png' | wc -l)
  if ((COUNT > 0)); then
    WHAT="$COUNT mini-MIAS films 1024x1024"
  else
    $TV images "$IMAGES" --count 8 --size 1024x832 >/dev/null
    COUNT=8
    WHAT="8 generated PNGs 1024x832 (no mini-MIAS films in $FILMS)"
  fi
  # Both sides are timed as whole processes: start-up, weights, decoding and the model.
  predict_record() {
    local round=$1 side=$2 precision=$3
    shift 3
    local start end
    start=$(date +%s.%N)
    if ! "$@" >/dev/null; then
      log "$side $precision predict failed: $*"
      return 0
    fi
    end=$(date +%s.%N)
    echo "{\"round\": $round, \"side\": \"$side\", \"precision\": \"$precision\"," \
      "\"mode\": \"predict\", \"images\": $COUNT, \"what\": \"$WHAT\"," \
      "\"seconds\": $(echo "$end - $start" | bc)," \
      "\"images_per_minute\": $(echo "scale=3; 60 * $COUNT / ($end - $start)" | bc)}" >>"$RESULTS"
  }
  mbmd_predict() {
    "$MBMD" predict --threads "$THREADS" --checkpoint "$WEIGHTS" \
      --config torchvision_fasterrcnn_r50_fpn --set model.num_classes=90 "$@" \
      --out "$OUT/predict.json" "$IMAGES"
  }
  for ((r = 1; r <= SHORT_ROUNDS; r++)); do
    log "predict round $r/$SHORT_ROUNDS ($WHAT)"
    sides=(tv fp32 bf16)
    ((r % 2 == 0)) && sides=(bf16 fp32 tv)
    for side in "${sides[@]}"; do
      case $side in
        tv) predict_record $r torchvision fp32 $TV predict "$IMAGES" ;;
        fp32) predict_record $r mbmd fp32 mbmd_predict ;;
        bf16) predict_record $r mbmd bf16 mbmd_predict $BF16 ;;
      esac
    done
  done
else
  log "mbmd predict is not available in $MBMD: throughput not measured"
  echo "{\"mode\": \"note\", \"text\": \"mbmd predict not available: throughput not measured\"}" \
    >>"$RESULTS"
fi

echo "{\"mode\": \"machine_end\", \"load_end\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >>"$RESULTS"
log "done; results in $RESULTS"
$TV summarize "$RESULTS" | tee "$OUT/summary.md"
