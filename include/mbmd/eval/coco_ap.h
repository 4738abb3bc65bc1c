// Average precision exactly as pycocotools' COCOeval computes it for bounding boxes: per
// category and image, detections sorted by score (stable), at most `max_dets` per image, each
// matched greedily to the unmatched ground truth of highest IoU >= t (ignored ground truths last,
// crowd regions may take several detections), then precision interpolated at 101 recall points
// with the monotone envelope and averaged over the categories that have ground truth.
#pragma once

#include <string>
#include <vector>

#include "mbmd/eval/types.h"

namespace mbmd::engine {

// A ground truth outside [min_area, max_area] (both ends included) is ignored for that range,
// and so is an unmatched detection whose box area lies outside it.
struct AreaRange {
  std::string label;
  double min_area = 0.0;
  double max_area = 1e10;
};

// COCO's four ranges: all, small (< 32^2), medium (32^2 .. 96^2), large (> 96^2).
std::vector<AreaRange> coco_area_ranges();

struct CocoApParams {
  std::vector<double> iou_thrs{0.2, 0.5, 0.75};
  std::vector<AreaRange> area_ranges = coco_area_ranges();
  int max_dets = 100;
};

struct CocoApResult {
  std::vector<double> iou_thrs;
  std::vector<AreaRange> area_ranges;
  std::vector<int64_t> categories;
  // ap[t][a]: mean over categories with ground truth in the range; -1 when none has any.
  std::vector<std::vector<double>> ap;
  // recall[t][a]: the final recall, averaged the same way; -1 when undefined.
  std::vector<std::vector<double>> recall;
  // precision[t][a][k]: the 101 interpolated precisions of category k; empty when it has no
  // ground truth in the range (pycocotools' -1).
  std::vector<std::vector<std::vector<std::vector<double>>>> precision;

  // AP at threshold `iou_thr` (compared with a 1e-9 tolerance) and the range labelled `area`;
  // throws mbmd::Error when either was not evaluated.
  double ap_at(double iou_thr, const std::string& area = "all") const;
};

CocoApResult coco_average_precision(const EvalSet& set, const CocoApParams& params = {});

}  // namespace mbmd::engine
