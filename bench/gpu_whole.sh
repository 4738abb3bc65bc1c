#!/bin/bash
# The whole program on a GPU (issue 13; docs/performance.md, "On a GPU"): builds `mbmd` with the
# data layer against the machine's CUDA LibTorch and the Debian packages of bench/gpu_deps.sh,
# then, with runtime.device=cuda, trains the FPN and MHFPN paper configs at 1333x800, batch 2,
# in fp32 and bf16 on the carried mini-MIAS films, times torchvision's training step (fp32 and
# bf16 autocast) and CUDA-graph replay of the backbone and FPN on the same card, runs
# `mbmd predict` and `mbmd eval` over the films and a one-fold `mbmd cv`, and writes
# OUT_DIR/summary.md (the table), OUT_DIR/results.jsonl and OUT_DIR/logs.tar.gz.
#
#   bash bench/gpu_whole.sh [OUT_DIR]     (default $BUILD_DIR/whole)
#
# Expected on one H200 with 16 cores (steps in this order; a step that would pass the time
# budget is skipped and named in the summary):
#   deps        unpack .gpu-deps/debs, pick the libraries the system lacks       ~10 s
#   build       configure and build mbmd (ninja, 16 jobs, no tests)              ~3-5 min
#   train       2 configs x 2 precisions, ~220 iterations each (8 epochs of the
#               55 located films), no validation                                 ~40 s each
#   torchvision its training step, fp32 and bf16, and the CUDA-graph probe       ~60 s
#   predict     mbmd predict + eval over WHOLE_PREDICT_FILMS films               ~30 s
#   cv          mbmd cv --folds 1, WHOLE_CV_EPOCHS epochs, FPN                    ~90 s
# A slow build leaves cv (then predict) skipped: on the still-warm machine, WHOLE_STEPS=deps,predict,cv
# reuses the build and the checkpoints in BUILD_DIR.
#
# Environment:
#   WHOLE_STEPS         comma list of the steps above (deps,build,train,torchvision,predict,cv)
#   WHOLE_BUDGET_S      seconds the script may take in all (540)
#   WHOLE_DRY_RUN=1     on the CPU, with an mbmd built already (MBMD_BIN) and tiny settings: checks
#                       the command lines and the log parsing (steps default to
#                       train,torchvision,predict,cv)
#   MBMD_BIN            the mbmd to run (default: the one this script builds)
#   WHOLE_MODELS        "fpn mhfpn"; WHOLE_PRECISIONS "fp32 bf16"
#   WHOLE_SCALE         input.scale ([1333,800]); WHOLE_EPOCHS training epochs (8)
#   WHOLE_FILMS         use only the first N films (all); WHOLE_PREDICT_FILMS (12)
#   WHOLE_CV_EPOCHS     (2); WHOLE_TV_STEPS timed torchvision steps (20)
#   WHOLE_DATA          mias (the carried films, .gpu-data/mini-mias-masses) or phantom (made by
#                       `mbmd demo --quick` there); default mias when the films are there
#   WHOLE_TRAIN_SET     extra "key=value ..." overrides for every training run
#   WHOLE_TORCH_PREFIX  LibTorch's CMake prefix (default: the one of $PYTHON's torch)
#   WHOLE_TARGETS       build targets (mbmd); WHOLE_JOBS (nproc); CUDA_ARCH (90); PYTHON
#                       (python3); BUILD_DIR (build-cuda-whole); DEPS_PREFIX (BUILD_DIR/deps-root)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-cuda-whole}
WORK=$BUILD/whole
OUT_DIR=${1:-$WORK}
DRY=${WHOLE_DRY_RUN:-0}
if ((DRY)); then
  STEPS=${WHOLE_STEPS:-train,torchvision,predict,cv}
  DEVICE=cpu THREADS=1 WORKERS=0 PY=${PYTHON:-/usr/bin/python3}
  SCALE=${WHOLE_SCALE:-[256,160]} EPOCHS=${WHOLE_EPOCHS:-1} FILMS=${WHOLE_FILMS:-8}
  PREDICT_FILMS=${WHOLE_PREDICT_FILMS:-3} CV_EPOCHS=${WHOLE_CV_EPOCHS:-1} TV_STEPS=${WHOLE_TV_STEPS:-2}
else
  STEPS=${WHOLE_STEPS:-deps,build,train,torchvision,predict,cv}
  DEVICE=cuda THREADS=0 WORKERS=4 PY=${PYTHON:-python3}
  SCALE=${WHOLE_SCALE:-[1333,800]} EPOCHS=${WHOLE_EPOCHS:-8} FILMS=${WHOLE_FILMS:-0}
  PREDICT_FILMS=${WHOLE_PREDICT_FILMS:-12} CV_EPOCHS=${WHOLE_CV_EPOCHS:-2} TV_STEPS=${WHOLE_TV_STEPS:-20}
fi
MODELS=${WHOLE_MODELS:-fpn mhfpn}
PRECISIONS=${WHOLE_PRECISIONS:-fp32 bf16}
PREFIX=${DEPS_PREFIX:-$BUILD/deps-root}
MBMD=${MBMD_BIN:-$BUILD/mbmd}
DEADLINE=$((SECONDS + ${WHOLE_BUDGET_S:-540}))
RESULTS=$WORK/results.jsonl
SUMMARY=$WORK/summary.md
mkdir -p "$WORK" "$OUT_DIR" || exit 1
: >"$RESULTS"
: >"$WORK/notes.md"
FAILED=0

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
# A failure is logged and noted in the summary; the later steps still run.
note() {
  log "$*"
  echo "- $*" >>"$WORK/notes.md"
}
failed() {
  FAILED=1
  note "FAILED: $*"
}
want() { [[ ,$STEPS, == *,$1,* ]]; }
# True when a step expected to take $1 seconds still fits the budget; else notes the skip.
fits() {
  ((SECONDS + $1 <= DEADLINE)) && return 0
  note "skipped $2: ~$1 s would pass WHOLE_BUDGET_S (${WHOLE_BUDGET_S:-540} s)"
  return 1
}
remaining() { echo $((DEADLINE - SECONDS > 10 ? DEADLINE - SECONDS : 10)); }

# mbmd with the system libstdc++ loaded first: pip wheels of PyTorch export a static
# std::filesystem that our programs would otherwise bind to (see gpu_check.sh).
STDCXX=$(${CXX:-c++} -print-file-name=libstdc++.so.6 2>/dev/null)
mbmd() {
  if [[ $STDCXX == /* ]]; then
    LD_PRELOAD=$STDCXX timeout "$(remaining)" "$MBMD" "$@"
  else
    timeout "$(remaining)" "$MBMD" "$@"
  fi
}

# Unpacks the carried .debs (once) and puts the libraries this system lacks on LD_LIBRARY_PATH.
step_deps() {
  local libdir
  if [[ ! -f $PREFIX/.unpacked ]]; then
    bash "$ROOT/bench/gpu_deps.sh" unpack "$PREFIX" >"$WORK/deps.log" 2>&1 ||
      { failed "unpacking the .debs (deps.log)"; return 1; }
    touch "$PREFIX/.unpacked"
  fi
  libdir=$(bash "$ROOT/bench/gpu_deps.sh" libdir "$PREFIX" 2>>"$WORK/deps.log") ||
    { failed "runtime-lib (deps.log)"; return 1; }
  export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  note "libraries taken from the carried packages: $(find "$libdir" -name '*.so.*' -printf '%f\n' |
    grep -vE '\.so\.[0-9]+\.[0-9]+\.[0-9]+' | sort | tr '\n' ' ')"
}

# LibTorch's CMake prefix (from $PY's torch unless WHOLE_TORCH_PREFIX) and nvcc on PATH.
torch_prefix() {
  if [[ -n ${WHOLE_TORCH_PREFIX:-} ]]; then
    echo "$WHOLE_TORCH_PREFIX"
    return
  fi
  "$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)'
}

# cmake -S . -B BUILD with the data layer, every package looked for in the unpacked prefix first
# (CMAKE_PREFIX_PATH comes before the system's folders, so CMakeCache.txt shows what was found).
configure() {
  local torch lib=$PREFIX/usr/lib/x86_64-linux-gnu generator=()
  torch=$(torch_prefix) || { failed "no LibTorch: $PY has no torch"; return 1; }
  command -v ninja >/dev/null && generator=(-G Ninja)
  if ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then
    export PATH=$PATH:/usr/local/cuda/bin
  fi
  log "configure $BUILD against $torch and $PREFIX"
  cmake -S "$ROOT" -B "$BUILD" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$PREFIX/usr;$torch" -DMBMD_WITH_DATA=ON -DMBMD_BUILD_TESTS=OFF \
    -DMBMD_BUILD_BENCH=OFF -DMBMD_WERROR=OFF -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}" \
    -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$lib" >"$WORK/configure.log" 2>&1 ||
    { tail -n 30 "$WORK/configure.log" >&2; failed "configure (configure.log)"; return 1; }
  # Where each package was found, for the record: all of them should be under $PREFIX.
  local keys='GDCM_DIR|DCMTK_DIR|PNG_LIBRARY_RELEASE|PNG_PNG_INCLUDE_DIR|ZLIB_LIBRARY_RELEASE'
  keys+='|ZLIB_INCLUDE_DIR|nlohmann_json_DIR|Torch_DIR'
  grep -E "^($keys)[:=]" \
    "$BUILD/CMakeCache.txt" | tee "$WORK/found.txt" >&2
}

# Builds WHOLE_TARGETS and checks that the decoder's libraries resolve.
step_build() {
  configure || return 1
  log "build ${WHOLE_TARGETS:-mbmd}"
  # shellcheck disable=SC2086 # a list of targets
  cmake --build "$BUILD" -j "${WHOLE_JOBS:-$(nproc)}" --target ${WHOLE_TARGETS:-mbmd} \
    >"$WORK/build.log" 2>&1 ||
    { grep -m 20 -B 2 -A 8 "error" "$WORK/build.log" >&2; failed "build (build.log)"; return 1; }
  ldd "$BUILD/mbmd-dicom-decoder" >"$WORK/ldd.txt" 2>&1
  grep -q "not found" "$WORK/ldd.txt" &&
    failed "mbmd-dicom-decoder: $(grep "not found" "$WORK/ldd.txt" | tr -s ' \t' ' ')"
  grep -F "$PREFIX" "$WORK/ldd.txt" >&2
}

# The training data: the carried films (WHOLE_FILMS: only the first N, in a folder of links with
# their Info.txt rows), or a phantom set made by `mbmd demo --quick`. Sets DATA_ARGS and INPUTS.
choose_data() {
  local films=$ROOT/.gpu-data/mini-mias-masses kind=${WHOLE_DATA:-}
  [[ -z $kind ]] && { [[ -f $films/Info.txt ]] && kind=mias || kind=phantom; }
  if [[ $kind == phantom ]]; then
    mbmd demo --quick --work-dir "$WORK/phantom" --patients 28 --film-size 832x1024 \
      --set runtime.device="$DEVICE" --threads "$THREADS" --quiet >"$WORK/phantom.log" 2>&1 ||
      { failed "mbmd demo (phantom.log)"; return 1; }
    DATA_ARGS=(--set data.dataset=coco --set data.ann_file="$WORK/phantom/data/phantom.json")
    INPUTS=$WORK/phantom/data/images GT=$WORK/phantom/data/phantom.json
    return
  fi
  ((FILMS > 0)) && films=$(film_subset "$films" "$FILMS")
  DATA_ARGS=(--set data.root="$films")
  INPUTS=$films GT=
}

# A folder with links to the first $2 films of $1 and the Info.txt rows of those films.
film_subset() {
  local src=$1 n=$2 dst=$WORK/films-$2 keep
  { rm -rf "$dst" && mkdir -p "$dst"; } || return 1
  keep=$(find "$src" -name 'mdb*.png' -printf '%f\n' | sort | head -n "$n" | sed 's/\.png$//')
  for f in $keep; do ln -s "$src/$f.png" "$dst/$f.png"; done
  awk -v keep="$(tr '\n' ' ' <<<"$keep")" 'BEGIN {n = split(keep, k, " "); for (i = 1; i <= n; i++) w[k[i]] = 1}
    $1 !~ /^mdb/ || ($1 in w)' "$src/Info.txt" >"$dst/Info.txt"
  echo "$dst"
}

config_of() { [[ $1 == fpn ]] && echo mias/faster_rcnn_r50_fpn_paper || echo mias/mbmdnet_r50_mhfpn_paper; }

# One training run: config $1 (fpn | mhfpn) in precision $2, no validation; appends its result.
train_run() {
  local model=$1 precision=$2 dir=$WORK/train_$1_$2 start=$SECONDS extra=()
  local item
  for item in ${WHOLE_TRAIN_SET:-}; do extra+=(--set "$item"); done
  log "train $model $precision"
  rm -rf "$dir"
  mbmd train --config "$(config_of "$model")" --work-dir "$dir" --quiet --threads "$THREADS" \
    "${DATA_ARGS[@]}" --set runtime.device="$DEVICE" --set runtime.precision="$precision" \
    --set input.scale="$SCALE" --set train.batch_size=2 --set train.epochs="$EPOCHS" \
    --set data.split=none --set train.val_interval=0 --set train.log_interval=10 \
    --set data.workers="$WORKERS" "${extra[@]}" >"$dir.log" 2>&1 ||
    failed "train $model $precision (exit $?, train_$1_$2.log)"
  "$PY" - "$dir/log.jsonl" "$model" "$precision" $((SECONDS - start)) >>"$RESULTS" <<'EOF' ||
import json, statistics, sys
path, model, precision, wall = sys.argv[1:5]
lines = [json.loads(l) for l in open(path) if l.strip()]
train = [l for l in lines if l.get("type") == "train"]
first_epoch = train[0]["epoch"] if train else 0
# Seconds per iteration after the first epoch (decoding into the cache, cuDNN's first calls).
steady = [l["time"] for l in train if l["epoch"] > first_epoch] or [l["time"] for l in train]
med = statistics.median(steady)
print(json.dumps({"step": "train", "model": model, "precision": precision, "wall_s": int(wall),
                  "iters": train[-1]["iter"], "s_per_iter": med, "images_per_s": 2 / med,
                  "last_loss": train[-1]["loss"],
                  "errors": sum(l.get("type") == "error" for l in lines)}))
EOF
    failed "no training log in $dir (train_$1_$2.log)"
}

step_train() {
  local precision model
  for precision in $PRECISIONS; do
    for model in $MODELS; do
      fits 45 "train $model $precision" && train_run "$model" "$precision"
    done
  done
}

# torchvision's training step (fp32, bf16 autocast) and the CUDA-graph probe, as JSON lines.
step_torchvision() {
  local size
  size=$(tr -d '[]' <<<"$SCALE" | awk -F, '{print $2 "x" $1}')
  log "torchvision $size"
  timeout "$(remaining)" "$PY" - "$ROOT/tools" "$DEVICE" "$size" "$TV_STEPS" "$THREADS" \
    >>"$RESULTS" 2>"$WORK/torchvision.log" <<'EOF' || failed "torchvision probe (torchvision.log)"
import json, statistics, sys, time
import torch
sys.path.insert(0, sys.argv[1])
from bench_torchvision import training_model, synthetic_image  # noqa: E402
dev, (h, w), steps = torch.device(sys.argv[2]), map(int, sys.argv[3].split("x")), int(sys.argv[4])
torch.set_num_threads(int(sys.argv[5]) or torch.get_num_threads())
batch, warmup = 2, 3

def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()

def timed(fn, runs):
    times = []
    for i in range(warmup + runs):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)

def autocast(precision):
    return torch.autocast(dev.type, dtype=torch.bfloat16, enabled=precision == "bf16",
                          cache_enabled=False)

def tv_train(precision):
    # tools/bench_torchvision.py's training step, the same model, under autocast for bf16.
    model = training_model().to(dev).train()
    model.transform.min_size, model.transform.max_size = (min(h, w),), max(h, w)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.001,
                          momentum=0.9, weight_decay=1e-4)
    images = [synthetic_image(h, w).to(dev) for _ in range(batch)]
    targets = [{"boxes": torch.tensor([[0.40 * w, 0.45 * h, 0.62 * w, 0.68 * h]], device=dev),
                "labels": torch.tensor([1], device=dev)} for _ in range(batch)]
    def step():
        with autocast(precision):
            loss = sum(model(images, targets).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
    med = timed(step, steps)
    print(json.dumps({"step": "torchvision", "precision": precision, "s_per_iter": med,
                      "images_per_s": batch / med}), flush=True)

class Body(torch.nn.Module):
    # The fixed-size part (ResNet-50 and FPN), with a tuple out as CUDA graphs want.
    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
    def forward(self, x):
        return tuple(self.backbone(x).values())

def graphs(precision):
    # Forward and backward of backbone + FPN at the padded input, eager and replayed as graphs.
    body = Body(training_model().backbone).to(dev).train()
    x = torch.randn(batch, 3, (h + 31) // 32 * 32, (w + 31) // 32 * 32, device=dev)
    def run(fn):
        with autocast(precision):
            out = fn(x)
        sum(o.float().mean() for o in out).backward()
    eager = timed(lambda: run(body), steps)
    with autocast(precision):
        graphed = torch.cuda.make_graphed_callables(body, (x,))
    replay = timed(lambda: run(graphed), steps)
    print(json.dumps({"step": "cuda_graphs", "precision": precision, "part": "backbone+fpn",
                      "eager_ms": eager * 1e3, "graphed_ms": replay * 1e3,
                      "saved_ms": (eager - replay) * 1e3}), flush=True)

for precision in ("fp32", "bf16"):
    for probe in (tv_train, graphs) if dev.type == "cuda" else (tv_train,):
        try:
            probe(precision)
        except Exception as e:  # noqa: BLE001 (recorded; the other probes still run)
            print(json.dumps({"step": "probe_error", "probe": probe.__name__,
                              "precision": precision, "error": str(e)[:400]}), flush=True)
EOF
}

# mbmd predict over the first WHOLE_PREDICT_FILMS films with the FPN fp32 run's last checkpoint
# (or another run's), then mbmd eval against the films' ground truth.
step_predict() {
  local ckpt files start=$SECONDS gt=$GT
  ckpt=$WORK/train_fpn_fp32/last.ckpt
  [[ -f $ckpt ]] || ckpt=$(find "$WORK" -path '*/train_*/last.ckpt' | sort | head -n 1)
  [[ -n $ckpt ]] || { failed "predict: no training run left a last.ckpt"; return 1; }
  mapfile -t files < <(find -L "$INPUTS" -name '*.png' | sort | head -n "$PREDICT_FILMS")
  if [[ -z $gt ]]; then
    gt=$WORK/gt.json
    mbmd convert mias --root "$INPUTS" --out "$gt" --masses-only >"$WORK/predict.log" 2>&1 ||
      { failed "mbmd convert (predict.log)"; return 1; }
  fi
  log "predict ${#files[@]} films with $ckpt"
  mbmd predict --checkpoint "$ckpt" "${files[@]}" --out "$WORK/dets.json" --gt "$gt" \
    --set runtime.device="$DEVICE" --threads "$THREADS" >>"$WORK/predict.log" 2>&1 ||
    { failed "mbmd predict (predict.log)"; return 1; }
  local wall=$((SECONDS - start))
  mbmd eval --gt "$gt" --dets "$WORK/dets.json" --json >"$WORK/eval.json" 2>>"$WORK/predict.log" ||
    failed "mbmd eval (predict.log)"
  echo "{\"step\": \"predict\", \"films\": ${#files[@]}, \"wall_s\": $wall," \
    "\"checkpoint\": \"${ckpt#"$WORK"/}\"}" >>"$RESULTS"
  predict_dicom "$ckpt"
}

# GDCM and DCMTK at run time: the carried mdb001.pgm made DICOM by the unpacked gdcmimg, read by
# mbmd predict (through mbmd-dicom-decoder) with a DICOM SR written for it (--sr-out, DCMTK).
predict_dicom() {
  local pgm=$ROOT/.gpu-data/pgm/mdb001.pgm gdcmimg=$PREFIX/usr/bin/gdcmimg sr
  [[ -f $pgm && -x $gdcmimg ]] || { note "no DICOM check: $pgm or $gdcmimg missing"; return; }
  rm -rf "$WORK/dicom" "$WORK/sr" && mkdir -p "$WORK/dicom"
  "$gdcmimg" "$pgm" "$WORK/dicom/mdb001.dcm" >>"$WORK/predict.log" 2>&1 ||
    { failed "gdcmimg (predict.log)"; return 1; }
  mbmd predict --checkpoint "$1" "$WORK/dicom" --out "$WORK/dicom_dets.json" --sr-out "$WORK/sr" \
    --sr-thr 0 --set runtime.device="$DEVICE" --threads "$THREADS" >>"$WORK/predict.log" 2>&1 ||
    { failed "mbmd predict on DICOM (predict.log)"; return 1; }
  sr=$(find "$WORK/sr" -name '*.sr.dcm' | wc -l)
  ((sr == 1)) || failed "mbmd predict --sr-out wrote $sr SR files, not 1"
  echo "{\"step\": \"dicom\", \"sr_files\": $sr}" >>"$RESULTS"
}

# A one-fold mbmd cv of the FPN config with WHOLE_CV_EPOCHS epochs (validation every epoch).
step_cv() {
  local start=$SECONDS
  log "cv, 1 fold, $CV_EPOCHS epochs"
  rm -rf "$WORK/cv"
  mbmd cv --config "$(config_of fpn)" --work-dir "$WORK/cv" --folds 1 --overlays 0 --quiet \
    --threads "$THREADS" "${DATA_ARGS[@]}" --set runtime.device="$DEVICE" \
    --set input.scale="$SCALE" --set train.epochs="$CV_EPOCHS" --set data.workers="$WORKERS" \
    >"$WORK/cv.log" 2>&1 || { failed "mbmd cv (exit $?, cv.log)"; return 1; }
  echo "{\"step\": \"cv\", \"folds\": 1, \"epochs\": $CV_EPOCHS, \"wall_s\": $((SECONDS - start))}" \
    >>"$RESULTS"
}

# summary.md from results.jsonl, the notes, where the packages were found and the cv summary.
summarize() {
  "$PY" - "$WORK" "$DEVICE" "$SCALE" "$STEPS" "$SECONDS" >"$SUMMARY" <<'EOF' || failed "summary"
import json, os, sys
work, device, scale, steps, wall = sys.argv[1:6]
rows = [json.loads(l) for l in open(os.path.join(work, "results.jsonl")) if l.strip()]
def read(name):
    path = os.path.join(work, name)
    return open(path).read().strip() if os.path.exists(path) else ""
print(f"# mbmd, the whole program on {read('gpu.txt') or device}\n")
print(f"{read('version.txt')}\n\nSteps `{steps}`, input {scale}, {wall} s in all.\n")
tv = {r["precision"]: r for r in rows if r["step"] == "torchvision"}
train = [r for r in rows if r["step"] == "train"]
if train:
    print("## Training, batch 2 (`mbmd train` on the films, log.jsonl's `time` after epoch 1)\n")
    print("| config | precision | iterations | s / iteration | images/s | torchvision images/s "
          "| mbmd / torchvision | wall s |\n|---|---|---|---|---|---|---|---|")
    for r in train:
        t = tv.get(r["precision"])
        print(f"| {r['model']} | {r['precision']} | {r['iters']} | {r['s_per_iter']:.4f} | "
              f"{r['images_per_s']:.1f} | {t['images_per_s']:.1f} | "
              f"{r['images_per_s'] / t['images_per_s']:.2f}x | {r['wall_s']} |" if t else
              f"| {r['model']} | {r['precision']} | {r['iters']} | {r['s_per_iter']:.4f} | "
              f"{r['images_per_s']:.1f} | - | - | {r['wall_s']} |")
    bad = [r for r in train if r["errors"]]
    if bad:
        print(f"\nNon-finite losses in: {', '.join(r['model'] + ' ' + r['precision'] for r in bad)}")
    print("\ntorchvision: synthetic images already on the device (tools/bench_torchvision.py's "
          "training model); mbmd: real films through its loader.\n")
graphs = [r for r in rows if r["step"] == "cuda_graphs"]
if graphs:
    print("## CUDA graphs: backbone + FPN, forward and backward, batch 2 (torchvision's modules)\n")
    print("| precision | eager ms | graph replay ms | saved ms | share of mbmd's FPN step |\n"
          "|---|---|---|---|---|")
    for g in graphs:
        step = next((r["s_per_iter"] for r in train
                     if r["model"] == "fpn" and r["precision"] == g["precision"]), None)
        share = f"{g['saved_ms'] / (step * 1e3):.0%}" if step else "-"
        print(f"| {g['precision']} | {g['eager_ms']:.1f} | {g['graphed_ms']:.1f} | "
              f"{g['saved_ms']:.1f} | {share} |")
    print()
for r in rows:
    if r["step"] == "predict":
        ev = json.loads(read("eval.json") or "{}")
        ap = {f"ap@{k}": v for k, v in ev.get("ap", {}).items()}
        ap.update({k: v for k, v in ev.items() if k in ("tpr", "fppi", "cpm")})
        print(f"## mbmd predict\n\n{r['films']} films in {r['wall_s']} s with "
              f"{r['checkpoint']} (loaded on the CPU by this version); eval: {json.dumps(ap)}\n")
    if r["step"] == "dicom":
        print(f"DICOM: mdb001.pgm made DICOM by gdcmimg, read through mbmd-dicom-decoder (GDCM), "
              f"{r['sr_files']} DICOM SR written (DCMTK).\n")
    if r["step"] == "cv":
        print(f"## mbmd cv, 1 fold, {r['epochs']} epochs: {r['wall_s']} s\n")
        print(read("cv/summary.md"), "\n")
for r in rows:
    if r["step"] == "probe_error":
        print(f"Probe {r['probe']} ({r['precision']}) failed: {r['error']}\n")
found = read("found.txt")
if found:
    print("## Packages found by CMake\n\n```\n" + found + "\n```\n")
notes = read("notes.md")
if notes:
    print("## Notes\n\n" + notes)
EOF
}

# The summary, the results and every log (no checkpoints) into OUT_DIR: 3 files.
collect() {
  summarize
  [[ $OUT_DIR != "$WORK" ]] && cp "$SUMMARY" "$RESULTS" "$OUT_DIR/"
  (cd "$WORK" && find . \( -name '*.log' -o -name '*.jsonl' -o -name '*.txt' -o -name '*.md' \
    -o -name 'eval.json' -o -name 'config.json' \) -print0 |
    tar czf "$OUT_DIR/logs.tar.gz" --null -T -) || log "could not pack the logs"
  cat "$SUMMARY"
}

main() {
  log "gpu_whole: steps $STEPS on $DEVICE, budget ${WHOLE_BUDGET_S:-540} s, work in $WORK"
  if [[ $DEVICE == cuda ]]; then
    "$PY" -c 'import torch; print(torch.cuda.get_device_name(0), "torch", torch.__version__)' \
      >"$WORK/gpu.txt" 2>/dev/null || note "$PY sees no CUDA device"
  fi
  want deps && step_deps
  want build && step_build
  [[ -x $MBMD ]] || { failed "no mbmd at $MBMD (build step, or MBMD_BIN)"; collect; exit 1; }
  mbmd --version >"$WORK/version.txt" 2>&1 || failed "mbmd --version (version.txt)"
  if want train || want predict || want cv; then
    choose_data || { collect; exit 1; }
  fi
  want train && step_train
  want torchvision && fits 60 torchvision && step_torchvision
  want predict && fits 40 predict && step_predict
  want cv && fits 90 cv && step_cv
  collect
  ((FAILED)) && { log "done, with failures (see the notes)"; exit 1; }
  log "done: $OUT_DIR/summary.md"
}

main
