#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -DMBMD_FUZZ=ON) in build-fuzz and runs each for a while
# from its committed seeds (tests/fuzz/corpus/<target>) plus the working corpus it grows
# (build-fuzz/fuzz/corpus/<target>), then prints one line per target: executions, seconds,
# executions per second, crashes. docs/reliability.md, "Fuzzing".
#
# Usage: bash tests/fuzz/run.sh [seconds] [target...]
#   seconds  per target, default 60 (libFuzzer's -max_total_time; -runs caps it too)
#   target   any of the names below; default all
# Environment: MBMD_FUZZ_RUNS (default 1000000), MBMD_FUZZ_PARALLEL (targets at a time, default
# 1), MBMD_FUZZ_JOBS (build jobs, default 2), MBMD_FUZZ_BUILD (default build-fuzz),
# MBMD_FUZZ_KEEP_GOING=1 (start the remaining targets after a crash).
# Exit status 1 when a target crashed; its log and the saved input are named at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
all_targets=(pgm png dicom inbreast_plist bcsdbt_csv coco_json config_json pickle checkpoint)
seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")
build=${MBMD_FUZZ_BUILD:-build-fuzz}
runs=${MBMD_FUZZ_RUNS:-1000000}
parallel=${MBMD_FUZZ_PARALLEL:-1}
out="$build/fuzz"
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "unknown target '$t' (known: ${all_targets[*]})" >&2; exit 2; }
done

nice -n 10 cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMBMD_FUZZ=ON -DMBMD_BUILD_TESTS=OFF -DMBMD_BUILD_BENCH=OFF >/dev/null
nice -n 10 cmake --build "$build" -j"${MBMD_FUZZ_JOBS:-2}" --target "${targets[@]/#/mbmd_fuzz_}"

# One target: libFuzzer's log in $out/logs/<target>.log, the summary line in
# $out/results/<target>.
run_target() {
  local t=$1 dict=tests/fuzz/dicts/$t.dict
  case $t in coco_json | config_json) dict=tests/fuzz/dicts/json.dict ;; esac
  mkdir -p "$out/corpus/$t" "$out/artifacts/$t" "$out/logs" "$out/results"
  local args=("$out/corpus/$t" "tests/fuzz/corpus/$t" -max_total_time="$seconds" -runs="$runs"
              -print_final_stats=1 -artifact_prefix="$out/artifacts/$t/" -timeout=30
              -rss_limit_mb=4096)
  [ -f "$dict" ] && args+=(-dict="$dict")
  local start=$SECONDS status=0
  nice -n 10 "$build/tests/fuzz/mbmd_fuzz_$t" "${args[@]}" >"$out/logs/$t.log" 2>&1 || status=$?
  local execs rate
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/logs/$t.log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/logs/$t.log" | tail -1)
  # Saved crashes, leaks, timeouts and out-of-memory inputs; slow units are only noted.
  local crashes
  crashes=$(grep 'Test unit written to' "$out/logs/$t.log" | grep -vc '/slow-unit-' || true)
  [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1
  echo "$t ${execs:-?} $((SECONDS - start)) ${rate:-?} $crashes $status" >"$out/results/$t"
}

rm -f "${targets[@]/#/$out/results/}"
failed=0
for t in "${targets[@]}"; do
  # A crash stops the campaign: no new target starts, the running ones finish.
  for r in "$out"/results/*; do
    [ -f "$r" ] && [ "$(cut -d' ' -f6 "$r")" != 0 ] && failed=1
  done
  [ "$failed" = 1 ] && [ "${MBMD_FUZZ_KEEP_GOING:-0}" != 1 ] && break
  echo "fuzzing $t for up to ${seconds}s or $runs runs"
  run_target "$t" &
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
done
wait

printf '\n%-16s %12s %8s %10s %8s\n' target executions seconds exec/s crashes
status=0
for t in "${targets[@]}"; do
  [ -f "$out/results/$t" ] || continue
  read -r name execs secs rate crashes code <"$out/results/$t"
  printf '%-16s %12s %8s %10s %8s\n' "$name" "$execs" "$secs" "$rate" "$crashes"
  if [ "$code" != 0 ]; then
    status=1
    echo "  $t failed (exit $code): log $out/logs/$t.log" >&2
    grep -h 'Test unit written to' "$out/logs/$t.log" | grep -v '/slow-unit-' | sed 's/^/  /' >&2 || true
  fi
done
exit $status
