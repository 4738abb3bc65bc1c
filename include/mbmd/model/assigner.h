// mmdetection 2.x MaxIoUAssigner and RandomSampler.
#pragma once

#include <ATen/ATen.h>

namespace mbmd::model {

struct AssignOptions {
  double pos_iou_thr = 0.7;
  double neg_iou_thr = 0.3;
  double min_pos_iou = 0.3;
  bool match_low_quality = true;
};

// For each box: -1 ignored, 0 background, k + 1 assigned to ground truth k. Low-quality matching
// gives every ground truth all boxes that reach its highest IoU (gt_max_assign_all), if that IoU is
// at least min_pos_iou.
at::Tensor assign_max_iou(const at::Tensor& boxes, const at::Tensor& gt_boxes,
                          const AssignOptions& options);

struct SampleResult {
  at::Tensor positive;  // indices of sampled positives
  at::Tensor negative;  // indices of sampled negatives
};

// Random sampling of at most num * pos_fraction positives and the rest negatives.
SampleResult sample_random(const at::Tensor& assigned, int64_t num, double pos_fraction);

}  // namespace mbmd::model
