#!/usr/bin/env python3
"""A numpy reference for mbmd's patient-level bootstrap on fixed resamples.

Writes tests/fixtures/eval/bootstrap_reference.json: a small evaluation set (patients with one or
two films, with and without masses), 40 resamples drawn here (stratified by patients with and
without masses, with replacement), and each metric's value on the set and its 95% interval over
the resamples, computed independently of the C++ code:
  - per image, detections in descending score order each take the best-IoU ground truth not yet
    found (hit at IoU >= 0.5, as pycocotools' bbIou without +1); a detection that hits only found
    boxes is neither a true nor a false positive;
  - the FROC over the pooled detections, sensitivity at FPPI x as the best TPR with FPPI <= x,
    CPM the mean over 1/8..8, the operating point the best TPR with FPPI <= 1;
  - the interval as numpy.percentile (linear) at 2.5 and 97.5.
A film drawn twice counts twice. Scores are distinct, so no tie rule matters.

Run with Debian's numpy: /usr/bin/python3 tools/make_bootstrap_reference.py
"""
import json
import os

import numpy as np

HIT_IOU = 0.5
FPPI_CAP = 1.0
CPM_POINTS = [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0]


def make_set(rng):
    images, patients, gts, dets = [], [], [], []
    score = 0.99
    for p in range(8):
        with_mass = p < 5
        for f in range(1 + p % 2):
            image = f"p{p}_f{f}"
            images.append(image)
            patients.append(f"p{p}")
            if with_mass:
                x, y = rng.uniform(10, 60, size=2).round(1)
                w, h = rng.uniform(20, 40, size=2).round(1)
                gts.append({"image_id": image, "box": [x, y, x + w, y + h]})
                # a good hit, a shifted one (hit or miss by IoU), and noise elsewhere
                for dx in (rng.uniform(0, 3), rng.uniform(5, 15)):
                    dets.append({"image_id": image, "box": [x + dx, y, x + w + dx, y + h],
                                 "score": score})
                    score -= rng.uniform(0.01, 0.04)
            for _ in range(rng.integers(0, 3)):
                x, y = rng.uniform(100, 200, size=2).round(1)
                dets.append({"image_id": image, "box": [x, y, x + 25, y + 25], "score": score})
                score -= rng.uniform(0.01, 0.04)
    # the scores are interleaved across images, but every one is distinct
    order = rng.permutation(len(dets))
    scores = sorted((d["score"] for d in dets), reverse=True)
    for i, j in enumerate(order):
        dets[j]["score"] = round(scores[i], 6)
    return {"image_ids": images, "patient_ids": patients, "ground_truths": gts, "detections": dets}


def iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def metrics(films):
    """films: list of (ground truth boxes, [(score, box)]) per counted film."""
    scored, masses = [], 0
    for gt_boxes, film_dets in films:
        masses += len(gt_boxes)
        found = [False] * len(gt_boxes)
        for s, box in sorted(film_dets, key=lambda d: -d[0]):
            ious = np.array([iou(box, g) for g in gt_boxes])
            hits = ious >= HIT_IOU
            free = hits & ~np.array(found, dtype=bool)
            if free.any():
                best = int(np.argmax(np.where(free, ious, -1.0)))
                found[best] = True
                scored.append((s, 1))
            else:
                scored.append((s, 0 if hits.any() else -1))
    scored.sort(key=lambda t: -t[0])
    outcomes = np.array([o for _, o in scored])
    tp = np.cumsum(outcomes > 0)
    fp = np.cumsum(outcomes < 0)
    tpr, fppi = tp / masses, fp / len(films)
    sens = {x: float(max([0.0] + [t for t, f in zip(tpr, fppi) if f <= x])) for x in CPM_POINTS}
    op_tpr, op_fppi = 0.0, 0.0
    for t, f in zip(tpr, fppi):
        if f <= FPPI_CAP and t > op_tpr:
            op_tpr, op_fppi = float(t), float(f)
    return {"tpr": op_tpr, "fppi": op_fppi, "cpm": float(np.mean(list(sens.values()))),
            "sens@0.5": sens[0.5], "sens@1": sens[1.0]}


def films_of(eval_set, patients):
    by_image = {i: ([], []) for i in eval_set["image_ids"]}
    for g in eval_set["ground_truths"]:
        by_image[g["image_id"]][0].append(g["box"])
    for d in eval_set["detections"]:
        by_image[d["image_id"]][1].append((d["score"], d["box"]))
    films = []
    for p in patients:
        for image, patient in zip(eval_set["image_ids"], eval_set["patient_ids"]):
            if patient == p:
                films.append(by_image[image])
    return films


def main():
    rng = np.random.default_rng(20261201)
    eval_set = make_set(rng)
    patients = list(dict.fromkeys(eval_set["patient_ids"]))
    with_mass = sorted({eval_set["patient_ids"][eval_set["image_ids"].index(g["image_id"])]
                        for g in eval_set["ground_truths"]})
    without = [p for p in patients if p not in with_mass]
    resamples = [list(rng.choice(with_mass, len(with_mass))) + list(rng.choice(without, len(without)))
                 for _ in range(40)]
    whole = metrics(films_of(eval_set, patients))
    per_resample = [metrics(films_of(eval_set, r)) for r in resamples]
    expected = {}
    for name, value in whole.items():
        values = [m[name] for m in per_resample]
        expected[name] = {"value": value, "low": float(np.percentile(values, 2.5)),
                          "high": float(np.percentile(values, 97.5))}
    out = {"set": eval_set, "resamples": [[str(p) for p in r] for r in resamples],
           "hit_iou": HIT_IOU, "fppi_cap": FPPI_CAP, "expected": expected}
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "eval",
                        "bootstrap_reference.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(json.dumps(expected, indent=1))


if __name__ == "__main__":
    main()
