#!/usr/bin/python3
"""Reference outputs of torchvision 0.14 for the ops-layer tests (tests/ops/*_test.cpp).

Run with Debian's interpreter, which has python3-torch 1.13 and python3-torchvision 0.14:

    /usr/bin/python3 tools/make_ops_fixtures.py [output_dir]

It writes tests/fixtures/ops/roi_align.json and tests/fixtures/ops/nms.json (atomically). Every
input is stored explicitly, so the C++ tests never depend on torch's random number generator.
"""

import json
import os
import sys
import tempfile

import torch
import torchvision
from torchvision.ops import batched_nms, nms, roi_align


def flat(t):
    """A tensor as a flat list; floats with 8 significant digits (well inside the 1e-5 tolerance)."""
    t = t.detach().reshape(-1)
    if t.dtype.is_floating_point:
        return [float("%.8g" % v) for v in t.tolist()]
    return t.tolist()


def write_json(path, obj):
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp_", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def roi_align_fixture():
    gen = torch.Generator().manual_seed(20240601)
    n, c, h, w = 2, 3, 13, 17
    feature = torch.randn(n, c, h, w, generator=gen)
    # RoIs in image coordinates; spatial_scale maps them onto the 13x17 map (image 52x68 at 1/4).
    rois = [
        [0, 4.0, 4.0, 40.0, 30.0],  # ordinary
        [1, 10.5, 7.25, 60.75, 45.5],  # ordinary, fractional
        [0, 0.0, 0.0, 68.0, 52.0],  # whole image
        [1, -30.0, -20.0, 120.0, 90.0],  # larger than the image on every side
        [0, -12.0, 5.0, 10.0, 20.0],  # partly left of the image
        [1, 50.0, 40.0, 90.0, 70.0],  # partly right of / below the image
        [0, 70.0, 55.0, 95.0, 80.0],  # entirely outside
        [1, -40.0, -40.0, -5.0, -3.0],  # entirely outside, negative
        [0, 20.0, 20.0, 20.0, 20.0],  # zero size (a point)
        [1, 15.0, 10.0, 15.0, 40.0],  # zero width
        [0, 30.0, 12.0, 25.0, 8.0],  # x2 < x1 and y2 < y1 (malformed)
        [1, 33.3, 21.7, 33.4, 21.8],  # tiny
        [0, 8.9, 3.1, 9.6, 3.3],  # tiny, near the border
        [1, 0.0, 0.0, 2.0, 2.0],  # small at the origin
        [0, 66.0, 50.0, 68.0, 52.0],  # small at the far corner
        [1, 5.0, 30.0, 64.0, 33.0],  # long and thin
        [0, 47.0, 1.0, 50.0, 50.0],  # tall and thin
        [1, 12.0, 14.0, 44.0, 39.0],  # ordinary
        [0, 3.7, 9.2, 21.1, 47.9],  # ordinary
        [1, 25.0, 5.0, 67.9, 51.9],  # up to the far border
    ]
    rois_t = torch.tensor(rois, dtype=torch.float32)
    pooled_h, pooled_w = 3, 4
    weights = torch.randn(len(rois), c, pooled_h, pooled_w, generator=gen)

    cases = []
    for scale in (0.25, 0.5):
        for aligned in (False, True):
            for sampling_ratio in (0, 2):
                x = feature.clone().requires_grad_(True)
                out = roi_align(x, rois_t, (pooled_h, pooled_w), scale, sampling_ratio, aligned)
                (out * weights).sum().backward()
                cases.append(
                    {
                        "spatial_scale": scale,
                        "aligned": aligned,
                        "sampling_ratio": sampling_ratio,
                        "output": flat(out),
                        "grad_input": flat(x.grad),
                    }
                )
    return {
        "generator": "tools/make_ops_fixtures.py",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "input_shape": [n, c, h, w],
        "input": flat(feature),
        "rois": flat(rois_t),
        "pooled_h": pooled_h,
        "pooled_w": pooled_w,
        "grad_weights": flat(weights),
        "cases": cases,
    }


def clustered_boxes(gen, count, clusters, extent, size, jitter, integer):
    """Boxes scattered around a few centres, so that many pairs overlap with IoU near 0.3-0.7."""
    centres = torch.rand(clusters, 2, generator=gen) * extent
    which = torch.randint(0, clusters, (count,), generator=gen)
    centre = centres[which] + (torch.rand(count, 2, generator=gen) - 0.5) * 2.0 * jitter
    half = size * (0.5 + torch.rand(count, 2, generator=gen)) / 2.0
    boxes = torch.cat([centre - half, centre + half], dim=1)
    if integer:
        boxes = boxes.round()
    return boxes


def nms_fixture():
    gen = torch.Generator().manual_seed(7)
    cases = []

    def add_case(name, boxes, scores, idxs, thresholds):
        case = {
            "name": name,
            "kind": "nms" if idxs is None else "batched_nms",
            "dtype": "float64" if boxes.dtype == torch.float64 else "float32",
            "boxes": flat(boxes),
            "scores": flat(scores),
            "thresholds": list(thresholds),
        }
        if idxs is None:
            case["keeps"] = [nms(boxes, scores, thr).tolist() for thr in thresholds]
        else:
            case["idxs"] = idxs.tolist()
            case["keeps"] = [batched_nms(boxes, scores, idxs, thr).tolist() for thr in thresholds]
        cases.append(case)

    thresholds = (0.3, 0.5, 0.7)

    # Continuous scores, heavily overlapping boxes.
    boxes = clustered_boxes(gen, 40, 4, 80.0, 20.0, 6.0, False)
    scores = torch.rand(40, generator=gen)
    add_case("random", boxes, scores, None, thresholds)

    # Ties: 5 score values over 120 boxes (more than 16 equal keys, so the sort is not a plain
    # insertion sort and the order of equal scores is whatever torch's unstable sort gives).
    boxes = clustered_boxes(gen, 120, 6, 80.0, 20.0, 6.0, False)
    scores = (torch.randint(0, 5, (120,), generator=gen).float() + 1.0) / 5.0
    add_case("ties", boxes, scores, None, thresholds)

    # Identical boxes with identical and with different scores, plus zero-area boxes.
    base = torch.tensor([[10.0, 10.0, 30.0, 40.0], [12.0, 11.0, 31.0, 42.0], [50.0, 50.0, 50.0, 60.0]])
    boxes = torch.cat([base, base, base, base[:1], base[:1]], dim=0)
    scores = torch.tensor([0.9, 0.8, 0.7, 0.9, 0.8, 0.7, 0.5, 0.5, 0.5, 0.9, 0.3])
    add_case("identical", boxes, scores, None, thresholds)

    # Double precision.
    boxes = clustered_boxes(gen, 30, 3, 60.0, 20.0, 6.0, False).double()
    scores = torch.rand(30, generator=gen).double()
    add_case("float64", boxes, scores, None, (0.5,))

    # Batched, small (torchvision's coordinate-offset path): integer coordinates keep the offsets
    # exact in float32, so the reference has no rounding of its own.
    boxes = clustered_boxes(gen, 150, 5, 80.0, 20.0, 6.0, True)
    scores = (torch.randint(0, 6, (150,), generator=gen).float() + 1.0) / 6.0
    idxs = torch.randint(0, 4, (150,), generator=gen)
    add_case("batched_small", boxes, scores, idxs, thresholds)

    # Batched, large: more than 4000 coordinates makes torchvision run NMS class by class.
    boxes = clustered_boxes(gen, 1100, 40, 400.0, 24.0, 7.0, True)
    scores = (torch.randint(0, 20, (1100,), generator=gen).float() + 1.0) / 20.0
    idxs = torch.randint(0, 5, (1100,), generator=gen) * 3 + 1  # sparse, non-zero class ids
    add_case("batched_large", boxes, scores, idxs, (0.5,))

    return {
        "generator": "tools/make_ops_fixtures.py",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cases": cases,
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "fixtures", "ops")
    os.makedirs(out_dir, exist_ok=True)
    write_json(os.path.join(out_dir, "roi_align.json"), roi_align_fixture())
    write_json(os.path.join(out_dir, "nms.json"), nms_fixture())


if __name__ == "__main__":
    main()
