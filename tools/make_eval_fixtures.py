#!/usr/bin/python3
"""Writes the pycocotools parity fixtures of the engine metrics (tests/fixtures/eval/).

Each case is a small random COCO ground-truth file, a COCO results file and the values that
pycocotools' COCOeval (iouType 'bbox') computes for them: AP at IoU 0.2, 0.5 and 0.75 over all
areas, AP@50 for the small / medium / large area ranges, and the ten COCO thresholds 0.5:0.95.
tests/eval/coco_eval_test.cpp checks mbmd::engine::coco_evaluate against these numbers.

pycocotools is not a Debian 12 package. To regenerate, build it from the cocoapi sources
(PythonAPI: `python3 setup.py build_ext --inplace`, needs cython3) and run
    PYTHONPATH=/path/to/cocoapi/PythonAPI /usr/bin/python3 tools/make_eval_fixtures.py
matplotlib is only needed by pycocotools for drawing; a stand-in module is used when it is absent.
"""

import json
import os
import random
import sys
import types

import numpy as np

if not hasattr(np, "float"):  # cocoapi's accumulate() still uses np.float (removed in numpy 1.24)
    np.float = float

try:
    import matplotlib.pyplot  # noqa: F401
except ImportError:  # coco.py imports these at load time only to draw annotations
    for name in ("matplotlib", "matplotlib.pyplot", "matplotlib.collections", "matplotlib.patches"):
        sys.modules[name] = types.ModuleType(name)
    sys.modules["matplotlib.collections"].PatchCollection = None
    sys.modules["matplotlib.patches"].Polygon = None

from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "engine")
THRS = [0.2, 0.5, 0.75]


def random_box(rng, size_range, integer):
    w = rng.uniform(*size_range)
    h = w * rng.uniform(0.6, 1.6)
    x = rng.uniform(0, 1000 - w)
    y = rng.uniform(0, 1000 - h)
    box = [x, y, w, h]
    return [float(round(v)) for v in box] if integer else [round(v, 3) for v in box]


def jitter(rng, box, amount, integer):
    x, y, w, h = box
    dx, dy = rng.uniform(-amount, amount) * w, rng.uniform(-amount, amount) * h
    sw, sh = rng.uniform(1 - amount, 1 + amount), rng.uniform(1 - amount, 1 + amount)
    out = [x + dx, y + dy, max(1.0, w * sw), max(1.0, h * sh)]
    return [float(round(v)) for v in out] if integer else [round(v, 3) for v in out]


def make_case(seed, n_images, categories, integer, score_decimals, crowd_rate, many_dets_image=None):
    """Random gts of all sizes; dets are jittered gts (good and bad), duplicates and false alarms."""
    rng = random.Random(seed)
    images, anns, dets = [], [], []
    ann_id = 1
    # Ids deliberately not in file order, so that the image order of the evaluation is tested.
    image_ids = rng.sample(range(1, 10 * n_images), n_images)
    size_ranges = [(8, 30), (30, 100), (100, 300)]
    for index, image_id in enumerate(image_ids):
        images.append({"id": image_id, "file_name": "img%d.png" % image_id, "width": 1000, "height": 1000})
        n_gt = 0 if index % 4 == 1 else rng.randint(1, 4)  # some normal images
        gts = []
        for _ in range(n_gt):
            cat = rng.choice(categories[:2]) if len(categories) > 1 else categories[0]
            box = random_box(rng, rng.choice(size_ranges), integer)
            crowd = 1 if rng.random() < crowd_rate else 0
            anns.append({"id": ann_id, "image_id": image_id, "category_id": cat, "bbox": box,
                         "area": box[2] * box[3] * rng.uniform(0.7, 1.0), "iscrowd": crowd})
            ann_id += 1
            gts.append((cat, box))
        if index % 4 == 2:
            continue  # an image without detections
        for cat, box in gts:
            for _ in range(rng.randint(0, 3)):
                dets.append({"image_id": image_id, "category_id": cat,
                             "bbox": jitter(rng, box, rng.choice([0.05, 0.2, 0.45]), integer),
                             "score": round(rng.random(), score_decimals)})
        for _ in range(rng.randint(0, 3)):
            box = random_box(rng, rng.choice(size_ranges), integer)
            dets.append({"image_id": image_id, "category_id": rng.choice(categories),
                         "bbox": box, "score": round(rng.random(), score_decimals)})
        if many_dets_image == index:
            # More than maxDets=100 detections: only the 100 best count.
            base = gts[0][1] if gts else random_box(rng, (30, 100), integer)
            for _ in range(130):
                dets.append({"image_id": image_id, "category_id": categories[0],
                             "bbox": jitter(rng, base, 0.3, integer),
                             "score": round(rng.random(), score_decimals)})
    gt = {"images": images, "annotations": anns,
          "categories": [{"id": c, "name": "class%d" % c} for c in categories]}
    return gt, dets


def mean_valid(values):
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else -1.0


def evaluate(gt_path, dets_path):
    coco_gt = COCO(gt_path)
    coco_dt = coco_gt.loadRes(dets_path)
    result = {}
    for name, thrs in (("custom", THRS), ("coco", None)):
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        if thrs is not None:
            ev.params.iouThrs = np.array(thrs)
        ev.evaluate()
        ev.accumulate()
        precision = ev.eval["precision"]  # [T, R, K, A, M]; M index 2 is maxDets 100
        iou_thrs = [float(t) for t in ev.params.iouThrs]
        if name == "custom":
            result["ap"] = {"%g" % t: mean_valid(precision[i, :, :, 0, 2]) for i, t in enumerate(iou_thrs)}
            t50 = iou_thrs.index(0.5)
            for a, label in ((1, "small"), (2, "medium"), (3, "large")):
                result["ap50_" + label] = mean_valid(precision[t50, :, :, a, 2])
        else:
            result["coco_iou_thrs"] = iou_thrs
            result["coco_ap"] = [mean_valid(precision[i, :, :, 0, 2]) for i in range(len(iou_thrs))]
            result["coco_ap_50_95"] = mean_valid(precision[:, :, :, 0, 2])
    return result


def write_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(value, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = {
        # one class, integer boxes, scores with ties (one decimal), a crowd region now and then
        "coco_one_class": dict(seed=1, n_images=8, categories=[1], integer=True, score_decimals=1,
                               crowd_rate=0.1),
        # two classes with gt plus one that has none (left out of the mean), fractional boxes
        "coco_three_classes": dict(seed=2, n_images=10, categories=[3, 7, 9], integer=False,
                                   score_decimals=2, crowd_rate=0.0),
        # an image with more than 100 detections
        "coco_max_dets": dict(seed=3, n_images=5, categories=[1], integer=True, score_decimals=2,
                              crowd_rate=0.0, many_dets_image=0),
    }
    expected = {}
    for name, params in cases.items():
        gt, dets = make_case(**params)
        gt_path = os.path.join(OUT, name + "_gt.json")
        dets_path = os.path.join(OUT, name + "_dets.json")
        write_json(gt_path, gt)
        write_json(dets_path, dets)
        expected[name] = evaluate(gt_path, dets_path)
    # The hand-built files (written by hand, AP worked out in tests/eval/coco_eval_test.cpp)
    # are checked against pycocotools too.
    expected["hand_ranked"] = evaluate(os.path.join(OUT, "hand_ranked_gt.json"),
                                       os.path.join(OUT, "hand_ranked_dets.json"))
    write_json(os.path.join(OUT, "coco_expected.json"), expected)
    print(json.dumps(expected, indent=1))


if __name__ == "__main__":
    main()
