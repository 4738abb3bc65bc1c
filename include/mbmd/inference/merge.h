// Merging detections of one image from several runs: test-time augmentation (the image and its
// mirror) and ensembles (the five fold models of a cross-validation).
#pragma once

#include <string>
#include <vector>

#include "mbmd/model/roi_head.h"

namespace mbmd::engine {

enum class MergeMethod {
  kNms,  // all boxes together, then per-class NMS: the best-scoring box of each cluster stays
  kWbf,  // weighted box fusion: each cluster becomes one box, its corners averaged by score
};

// "nms" or "wbf"; mbmd::Error naming `option` otherwise.
MergeMethod parse_merge_method(const std::string& text, const std::string& option = "--merge");

struct MergeOptions {
  MergeMethod method = MergeMethod::kWbf;
  double iou_thr = 0.55;   // boxes of one class overlapping at least this form a cluster
  int64_t max_dets = 100;  // the highest-scoring merged boxes kept
};

// Merges `runs` (detections of the same image, original pixels). WBF (Solovyev et al. 2021):
// boxes of a class, in descending score, join the first cluster whose fused box they overlap
// with IoU > iou_thr; a cluster's box is the score-weighted mean of its boxes and its score the
// mean of its scores times min(cluster size, runs) / runs, so a box that only one of several runs
// found counts for less. NMS keeps the best box of each overlapping group (IoU > iou_thr).
model::Detections merge_detections(const std::vector<model::Detections>& runs,
                                   const MergeOptions& options);

// Several runs over the same images (runs[k][i]: run k on image i), merged image by image.
std::vector<model::Detections> merge_runs_per_image(
    const std::vector<std::vector<model::Detections>>& runs, const MergeOptions& options);

}  // namespace mbmd::engine
