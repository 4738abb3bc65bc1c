#!/usr/bin/python3
"""Checks that pycocotools accepts a COCO results file of `mbmd predict --gt GT.json`.

usage: check_coco_results.py [--only-predicted-images] GT.json DETS.json

Runs pycocotools as a COCO user would: COCO(GT.json), coco.loadRes(DETS.json) and
COCOeval(gt, dt, 'bbox') evaluate / accumulate / summarize, after checking that every result's
image_id is one of the ground truth's image ids (mbmd predict --gt writes the ground truth's
integer ids). Prints the 12 COCO stats and "pycocotools accepts DETS.json"; exits 1 with a
message on stderr when pycocotools cannot be imported or when any step fails, 2 on bad usage.
--only-predicted-images restricts COCOeval's params.imgIds to the images the results name
(by default every ground-truth image is evaluated, as pycocotools does).

pycocotools is not a Debian 12 package. Build it from the cocoapi sources outside the project
(PythonAPI: `python3 setup.py build_ext --inplace`, needs cython3 and python3-numpy) and run
    PYTHONPATH=/path/to/cocoapi/PythonAPI /usr/bin/python3 tools/check_coco_results.py GT DETS
"""

import argparse
import json
import sys
import traceback

STAT_NAMES = [
    "AP @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]",
    "AP @[ IoU=0.50      | area=   all | maxDets=100 ]",
    "AP @[ IoU=0.75      | area=   all | maxDets=100 ]",
    "AP @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
    "AP @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]",
    "AP @[ IoU=0.50:0.95 | area= large | maxDets=100 ]",
    "AR @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ]",
    "AR @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ]",
    "AR @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]",
    "AR @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
    "AR @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]",
    "AR @[ IoU=0.50:0.95 | area= large | maxDets=100 ]",
]


def fail(message):
    print("check_coco_results: " + message, file=sys.stderr)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gt", metavar="GT.json")
    parser.add_argument("dets", metavar="DETS.json")
    parser.add_argument("--only-predicted-images", action="store_true",
                        help="evaluate only the images the results name")
    args = parser.parse_args()

    try:
        import numpy as np
        if not hasattr(np, "float"):  # cocoapi 2.0's accumulate() uses np.float (gone in numpy 1.24)
            np.float = float
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except Exception as e:  # ImportError, or a build for another Python / numpy
        fail("cannot import pycocotools (%s: %s); build it from cocodataset/cocoapi's PythonAPI "
             "(python3 setup.py build_ext --inplace) and set PYTHONPATH to that folder"
             % (type(e).__name__, e))

    try:
        with open(args.dets) as f:
            results = json.load(f)
    except Exception as e:
        fail("cannot read %s: %s" % (args.dets, e))
    if not isinstance(results, list) or not results:
        fail("%s must be a non-empty JSON list of results (loadRes cannot load an empty one)"
             % args.dets)

    try:
        gt = COCO(args.gt)
    except Exception as e:
        traceback.print_exc()
        fail("pycocotools' COCO(%s) failed: %s: %s" % (args.gt, type(e).__name__, e))

    gt_ids = set(gt.getImgIds())
    unknown = sorted({repr(r.get("image_id")) for r in results if r.get("image_id") not in gt_ids})
    if unknown:
        fail("%d image_id value(s) of %s are not ground-truth image ids of %s: %s"
             % (len(unknown), args.dets, args.gt, ", ".join(unknown[:10])))

    try:
        dt = gt.loadRes(args.dets)
        ev = COCOeval(gt, dt, "bbox")
        if args.only_predicted_images:
            ev.params.imgIds = sorted({r["image_id"] for r in results})
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    except Exception as e:
        traceback.print_exc()
        fail("pycocotools rejected %s: %s: %s" % (args.dets, type(e).__name__, e))

    print("%d results on %d of %d ground-truth images; evaluated images: %d"
          % (len(results), len({r["image_id"] for r in results}), len(gt_ids),
             len(ev.params.imgIds)))
    for name, value in zip(STAT_NAMES, ev.stats):
        print("stats %s = %.6f" % (name, value))
    print("pycocotools accepts %s" % args.dets)


if __name__ == "__main__":
    main()
