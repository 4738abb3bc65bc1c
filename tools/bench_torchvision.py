#!/usr/bin/env python3
"""torchvision's side of the performance harness (bench/run.sh; docs/performance.md).

Run with Debian's interpreter (the `python3` first on PATH has no torch):
  /usr/bin/python3 tools/bench_torchvision.py [--threads 2] MODE ...

Modes (each prints one JSON object per measurement on stdout):
  save-weights PATH          the seeded fasterrcnn_resnet50_fpn(weights=None) state dict, so that
                             the C++ side can run the very same network (configs/torchvision_...)
  infer --sizes 800x1333,... latency of model([image]) per input size (transform included), warm,
        --runs N --warmup W  every run timed; the process's peak resident memory at the end
  train --steps N --batch B  one SGD step (forward, backward, step) at 800x1333, B images with
                             one box each
--device cuda runs infer and train on the GPU (the image is copied there inside the timed part,
the detections copied back, and the clock read after torch.cuda.synchronize()).
  predict DIR                images/minute over the PNG files of DIR, decoding included
  summarize RESULTS          the Markdown report of bench/run.sh's results.jsonl
  summarize-gpu RESULTS      the Markdown report of bench/gpu_check.sh's results.jsonl
  images DIR --count N       writes N synthetic 8-bit grey PNG mammograms into DIR

The inference model is fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None) in eval mode
under torch.inference_mode(): with weights=None torchvision builds nn.BatchNorm2d (one fused
kernel in eval). Training uses the model torchvision builds for fine-tuning from pretrained
weights (FrozenBatchNorm2d, trainable_backbone_layers=3), which is what the mbmd configs train
(frozen_stages 1, norm_eval), with seeded random weights since none are downloaded here.
"""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torchvision
from torchvision.models.detection import FasterRCNN, fasterrcnn_resnet50_fpn
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.ops import misc as misc_nn_ops


def emit(**record):
    record["side"] = "torchvision"
    print(json.dumps(record), flush=True)


def peak_rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def parse_size(text):
    h, w = text.lower().split("x")
    return int(h), int(w)


def inference_model():
    torch.manual_seed(0)
    model = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None)
    return model.eval()


def training_model():
    torch.manual_seed(0)
    body = torchvision.models.resnet50(weights=None, norm_layer=misc_nn_ops.FrozenBatchNorm2d)
    backbone = _resnet_fpn_extractor(body, 3)
    return FasterRCNN(backbone, num_classes=91)


def synthetic_image(h, w, seed=0):
    """A grey breast-like image in 0..1 ([3, H, W] as torchvision takes it)."""
    gen = torch.Generator().manual_seed(seed)
    ys = torch.linspace(-1, 1, h).view(h, 1)
    xs = torch.linspace(-1, 1, w).view(1, w)
    tissue = (1 - (xs + 0.2) ** 2 - 0.6 * ys**2).clamp(0, 1)
    img = 0.6 * tissue + 0.1 * torch.rand(h, w, generator=gen)
    img = img + 0.3 * torch.exp(-((xs - 0.1) ** 2 + (ys - 0.2) ** 2) / 0.01)
    img = (img.clamp(0, 1) * 255).round() / 255
    return img.expand(3, h, w).contiguous()


def cmd_save_weights(args):
    model = inference_model()
    tmp = args.path + ".tmp"
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, args.path)
    emit(mode="save-weights", path=args.path)


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cmd_infer(args):
    device = torch.device(args.device)
    model = inference_model().to(device)
    for size in args.sizes.split(","):
        h, w = parse_size(size)
        # The transform resizes so that the short side is min_size (long side at most max_size):
        # with these settings the image keeps its size, as on the C++ side.
        model.transform.min_size = (min(h, w),)
        model.transform.max_size = max(h, w)
        image = synthetic_image(h, w)
        times = []
        detections = 0
        with torch.inference_mode():
            for i in range(args.warmup + args.runs):
                synchronize(device)
                start = time.perf_counter()
                out = model([image.to(device)])
                boxes = out[0]["boxes"].cpu()
                out[0]["scores"].cpu()
                elapsed = time.perf_counter() - start
                if i >= args.warmup:
                    times.append(elapsed)
                detections = int(boxes.shape[0])
        emit(mode="infer", config="torchvision_fpn", size=f"{h}x{w}", device=args.device,
             times=times, detections=detections)
    emit(mode="memory", config="torchvision_fpn", peak_rss_kb=peak_rss_kb())


def cmd_train(args):
    device = torch.device(args.device)
    model = training_model().to(device)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.001, momentum=0.9, weight_decay=1e-4)
    h, w = parse_size(args.size)
    model.transform.min_size = (min(h, w),)
    model.transform.max_size = max(h, w)
    images = [synthetic_image(h, w).to(device) for _ in range(args.batch)]
    targets = [{"boxes": torch.tensor([[0.40 * w, 0.45 * h, 0.62 * w, 0.68 * h]], device=device),
                "labels": torch.tensor([1], device=device)} for _ in range(args.batch)]
    times = []
    for i in range(args.warmup + args.steps):
        synchronize(device)
        start = time.perf_counter()
        losses = model(images, targets)
        loss = sum(losses.values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        synchronize(device)
        elapsed = time.perf_counter() - start
        if i >= args.warmup:
            times.append(elapsed)
    emit(mode="train", config="torchvision_fpn", size=f"{h}x{w}", device=args.device,
         batch=args.batch, times=times,
         loss=loss.item(), peak_rss_kb=peak_rss_kb())


def cmd_predict(args):
    from torchvision.io import ImageReadMode, read_image

    files = sorted(os.path.join(args.dir, f) for f in os.listdir(args.dir) if f.endswith(".png"))
    if not files:
        sys.exit(f"{args.dir}: no PNG files")
    # No warm-up: bench/run.sh times the whole process (start-up, model, decoding), as for mbmd.
    model = inference_model()
    with torch.inference_mode():
        start = time.perf_counter()
        for f in files:
            img = read_image(f, ImageReadMode.RGB).float() / 255
            model([img])
        elapsed = time.perf_counter() - start
    emit(mode="predict", config="torchvision_fpn", images=len(files), seconds=elapsed,
         images_per_minute=60 * len(files) / elapsed)


def cmd_images(args):
    from torchvision.io import write_png

    os.makedirs(args.dir, exist_ok=True)
    h, w = parse_size(args.size)
    for i in range(args.count):
        img = (synthetic_image(h, w, seed=i)[:1] * 255).round().to(torch.uint8)
        path = os.path.join(args.dir, f"image_{i:03d}.png")
        write_png(img, path + ".tmp")
        os.replace(path + ".tmp", path)
    emit(mode="images", dir=args.dir, count=args.count, size=args.size)


def median(values):
    values = sorted(values)
    n = len(values)
    if n == 0:
        return float("nan")
    return values[n // 2] if n % 2 else 0.5 * (values[n // 2 - 1] + values[n // 2])


def cmd_summarize(args):
    records = [json.loads(line) for line in open(args.results) if line.strip()]
    machine = next((r for r in records if r["mode"] == "machine"), {})
    end = next((r for r in records if r["mode"] == "machine_end"), {})

    def select(mode, side=None, config=None, size=None, phase=None, precision="fp32"):
        return [r for r in records if r.get("mode") == mode
                and r.get("precision", "fp32") == precision
                and (side is None or r.get("side") == side)
                and (phase is None or r.get("phase") == phase)
                and (config is None or r.get("config") == config)
                and (size is None or r.get("size") == size)]

    def times(mode, side, config, size=None, phase=None, precision="fp32"):
        return [t for r in select(mode, side, config, size, phase, precision) for t in r["times"]]

    def paired_ratio(mode, config, size, phase, base="torchvision_fpn", precision="fp32"):
        """Median over rounds of (our round median / torchvision's round median, FP32)."""
        ratios = []
        ours_all = select(mode, "mbmd", config, size, phase, precision)
        for r in sorted({x["round"] for x in ours_all}):
            ours = [t for x in ours_all if x["round"] == r for t in x["times"]]
            theirs = [t for x in select(mode, "torchvision", base, size, phase) if x["round"] == r
                      for t in x["times"]]
            if ours and theirs:
                ratios.append(median(ours) / median(theirs))
        return median(ratios), len(ratios)

    rows = []
    out = []
    out.append(f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
               f"{machine.get('threads', '?')} threads on both sides, "
               f"OPENBLAS_CORETYPE={machine.get('openblas_coretype', '?')}, "
               f"BLAS {machine.get('blas', '?')}; {machine.get('date', '?')}; load average "
               f"{machine.get('load_start', '?')} at the start, "
               f"{end.get('load_end', '?')} at the end.")
    out.append("")
    out.append("| Measurement | mbmd | torchvision | ours / torchvision (median of rounds) "
               "| target |")
    out.append("|---|---|---|---|---|")

    def add(label, ours, theirs, ratio, rounds, target, unit="s"):
        fmt = (lambda v: f"{v:.3f} {unit}") if unit == "s" else (lambda v: f"{v:.0f} {unit}")
        out.append(f"| {label} | {fmt(ours)} | {fmt(theirs)} | {ratio:.2f}x ({rounds} rounds) "
                   f"| {target} |")

    size = "800x1333"
    labels = {"torchvision_fasterrcnn_r50_fpn": ("Inference 800x1333, torchvision-compat config "
                                                 "(same weights)", "-"),
              "faster_rcnn_r50_fpn": ("Inference 800x1333, FPN config", "<= 0.60x"),
              "mbmdnet_r50_mhfpn": ("Inference 800x1333, MHFPN (MBMDNet) config", "<= 0.75x")}
    for config, (label, target) in labels.items():
        ours = times("infer", "mbmd", config, size, "latency")
        theirs = times("infer", "torchvision", "torchvision_fpn", size, "latency")
        if ours and theirs:
            ratio, n = paired_ratio("infer", config, size, "latency")
            add(label, median(ours), median(theirs), ratio, n, target)
    for config, label in [("faster_rcnn_r50_fpn", "Training step 800x1333, FPN"),
                          ("mbmdnet_r50_mhfpn", "Training step 800x1333, MHFPN")]:
        ours = times("train", "mbmd", config)
        theirs = times("train", "torchvision", "torchvision_fpn")
        if ours and theirs:
            ratio, n = paired_ratio("train", config, "800x1333", "train")
            add(label, median(ours), median(theirs), ratio, n, "<= 0.80x")
    tv_mem = [r["peak_rss_kb"] / 1024
              for r in select("memory", "torchvision", phase="latency")]
    for config, label in [("faster_rcnn_r50_fpn", "Peak memory, inference 800x1333, FPN"),
                          ("mbmdnet_r50_mhfpn", "Peak memory, inference 800x1333, MHFPN")]:
        ours = [r["peak_rss_kb"] / 1024 for r in select("memory", "mbmd", config, phase="latency")]
        if ours and tv_mem:
            add(label, median(ours), median(tv_mem), median(ours) / median(tv_mem), len(ours),
                "<= 0.80x", unit="MiB")
    for config, label in [("faster_rcnn_r50_fpn", "Peak memory, training step, FPN")]:
        ours = [r["peak_rss_kb"] / 1024 for r in select("train", "mbmd", config)]
        theirs = [r["peak_rss_kb"] / 1024 for r in select("train", "torchvision")]
        if ours and theirs:
            add(label, median(ours), median(theirs), median(ours) / median(theirs), len(ours), "-",
                unit="MiB")
    # runtime.precision=bf16 against torchvision in FP32 (docs/performance.md, "BF16").
    bf16_rows = [("infer", "torchvision_fasterrcnn_r50_fpn", "latency",
                  "BF16 inference 800x1333, torchvision-compat config", "-"),
                 ("infer", "faster_rcnn_r50_fpn", "latency", "BF16 inference 800x1333, FPN",
                  "<= 0.35x"),
                 ("infer", "mbmdnet_r50_mhfpn", "latency", "BF16 inference 800x1333, MHFPN",
                  "<= 0.45x"),
                 ("train", "faster_rcnn_r50_fpn", "train", "BF16 training step 800x1333, FPN",
                  "<= 0.50x"),
                 ("train", "mbmdnet_r50_mhfpn", "train", "BF16 training step 800x1333, MHFPN",
                  "<= 0.60x")]
    for mode, config, phase, label, target in bf16_rows:
        ours = times(mode, "mbmd", config, size if mode == "infer" else None, phase, "bf16")
        theirs = times(mode, "torchvision", "torchvision_fpn", size if mode == "infer" else None)
        if ours and theirs:
            ratio, n = paired_ratio(mode, config, "800x1333", phase, precision="bf16")
            add(label, median(ours), median(theirs), ratio, n, target)
    for config, label in [("faster_rcnn_r50_fpn", "BF16 peak memory, inference 800x1333, FPN"),
                          ("mbmdnet_r50_mhfpn", "BF16 peak memory, inference 800x1333, MHFPN")]:
        ours = [r["peak_rss_kb"] / 1024
                for r in select("memory", "mbmd", config, phase="latency", precision="bf16")]
        if ours and tv_mem:
            add(label, median(ours), median(tv_mem), median(ours) / median(tv_mem), len(ours),
                "<= 0.60x", unit="MiB")
    for size in ["512x853", "800x1333", "1024x1706", "1600x2666"]:
        ours = times("infer", "mbmd", "faster_rcnn_r50_fpn", size, "sweep")
        theirs = times("infer", "torchvision", "torchvision_fpn", size, "sweep")
        if ours and theirs:
            ratio, n = paired_ratio("infer", "faster_rcnn_r50_fpn", size, "sweep")
            add(f"Inference {size} (size sweep), FPN", median(ours), median(theirs), ratio, n, "-")
    pred_tv = [r["images_per_minute"] for r in select("predict", "torchvision")]
    for precision, prefix in [("fp32", "Predict"), ("bf16", "BF16 predict")]:
        runs = select("predict", "mbmd", precision=precision)
        pred_ours = [r["images_per_minute"] for r in runs]
        if pred_ours and pred_tv:
            what = runs[0].get("what", "8 PNGs 1024x832")
            add(f"{prefix} throughput, {what} (images/min, whole process)", median(pred_ours),
                median(pred_tv), median(pred_ours) / median(pred_tv), len(pred_ours),
                "higher is better", unit="img/min")
    for note in select("note"):
        out.append(f"| {note['text']} | | | | |")

    mm = select("mm")
    out.append("")
    if mm:
        n = mm[0]["n"]
        peak = 2 * n**3 / median(mm[0]["times"]) / 1e9
        out.append(f"FP32 matrix-multiply peak (at::mm {n}x{n}, median of "
                   f"{len(mm[0]['times'])}): {peak:.0f} GFLOP/s.")
        for r in select("flops"):
            body_s = median(r["body_times"])
            body_gflops = 2 * r["body_gmac"] / body_s
            if "mm_times" in r:  # the peak measured alternating with the body, in its process
                peak = 2 * r["mm_n"] ** 3 / median(r["mm_times"]) / 1e9
                out.append(f"- at::mm peak measured alternating with the {r['config']} body: "
                           f"{peak:.0f} GFLOP/s.")
            line = (f"- {r['config']} at {r['size']}: network {2 * r['network_gmac']:.0f} GFLOP "
                    f"({r['network_gmac']:.0f} GMAC, mmcv's count, forward_dummy with 1000 boxes); "
                    f"ResNet-50 body {2 * r['body_gmac']:.0f} GFLOP in {body_s:.3f} s = "
                    f"{body_gflops:.0f} GFLOP/s = {100 * body_gflops / peak:.0f}% of the peak "
                    f"(target >= 60%)")
            infer = times("infer", "mbmd", r["config"], "800x1333", "latency")
            if infer:
                whole = 2 * r["network_gmac"] / median(infer)
                line += (f"; whole detector {whole:.0f} GFLOP/s "
                         f"({100 * whole / peak:.0f}% of the peak)")
            out.append(line + ".")
    print("\n".join(out))


def cmd_summarize_gpu(args):
    records = [json.loads(line) for line in open(args.results) if line.strip()]
    machine = next((r for r in records if r.get("mode") == "machine"), {})

    def times(mode, side, config):
        return [t for r in records if r.get("mode") == mode and r.get("side") == side
                and r.get("config") == config for t in r["times"]]

    def batch(side, config):
        return next((r.get("batch", 1) for r in records if r.get("mode") == "train"
                     and r.get("side") == side and r.get("config") == config), 1)

    out = [f"GPU: {machine.get('gpu', '?')}; torch {machine.get('torch', '?')}, "
           f"torchvision {machine.get('torchvision', '?')}; {machine.get('date', '?')}. "
           "Medians over all timed runs of every round; 800x1333 input.", "",
           "| Measurement | mbmd | torchvision | ours / torchvision |", "|---|---|---|---|"]
    tv = times("infer", "torchvision", "torchvision_fpn")
    for config, label in [("torchvision_fasterrcnn_r50_fpn",
                           "Inference latency, torchvision-compat config (same weights)"),
                          ("faster_rcnn_r50_fpn", "Inference latency, FPN config"),
                          ("mbmdnet_r50_mhfpn", "Inference latency, MHFPN (MBMDNet) config")]:
        ours = times("infer", "mbmd", config)
        if ours and tv:
            out.append(f"| {label} | {1e3 * median(ours):.1f} ms | {1e3 * median(tv):.1f} ms "
                       f"| {median(ours) / median(tv):.2f}x |")
    tv = times("train", "torchvision", "torchvision_fpn")
    for config, label in [("faster_rcnn_r50_fpn", "Training, FPN"),
                          ("mbmdnet_r50_mhfpn", "Training, MHFPN (MBMDNet)")]:
        ours = times("train", "mbmd", config)
        if ours and tv:
            ours_ips = batch("mbmd", config) / median(ours)
            tv_ips = batch("torchvision", "torchvision_fpn") / median(tv)
            out.append(f"| {label}, batch {batch('mbmd', config)} (images/s, higher is better) "
                       f"| {ours_ips:.1f} img/s | {tv_ips:.1f} img/s "
                       f"| {median(ours) / median(tv):.2f}x time per step |")
    print("\n".join(out))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (infer and train)")
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("save-weights")
    p.add_argument("path")
    p = sub.add_parser("infer")
    p.add_argument("--sizes", default="800x1333")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p = sub.add_parser("train")
    p.add_argument("--size", default="800x1333")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--warmup", type=int, default=1)
    p = sub.add_parser("predict")
    p.add_argument("dir")
    p = sub.add_parser("summarize")
    p.add_argument("results")
    p = sub.add_parser("summarize-gpu")
    p.add_argument("results")
    p = sub.add_parser("images")
    p.add_argument("dir")
    p.add_argument("--count", type=int, default=8)
    p.add_argument("--size", default="1024x832")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    {"save-weights": cmd_save_weights, "infer": cmd_infer, "train": cmd_train,
     "predict": cmd_predict, "images": cmd_images, "summarize": cmd_summarize, "summarize-gpu": cmd_summarize_gpu}[args.mode](args)


if __name__ == "__main__":
    main()
