// Non-maximum suppression with torchvision.ops.nms / batched_nms semantics (torchvision 0.14).
//
// Boxes are [N, 4] (x1, y1, x2, y2) in float32 or float64, widths are x2 - x1 (no +1), and a box is
// suppressed by a kept box of higher rank when their IoU is strictly greater than the threshold.
// Boxes are ranked by a stable descending sort of the scores, so among equal scores the lower index
// comes first (torchvision's CPU kernel sorts with stable = true). CPU tensors always work; CUDA
// tensors need a build against a CUDA LibTorch.
#pragma once

#include <ATen/ATen.h>

namespace mbmd::ops {

// Indices (int64) of the kept boxes, sorted by decreasing score.
at::Tensor nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold);

// NMS done independently for each value of `idxs` (an integer tensor [N], e.g. class or level ids):
// boxes with different ids never suppress each other. Returns int64 indices sorted by decreasing
// score, exactly as torchvision.ops.batched_nms, including its order among equal scores. Empty
// inputs give an empty result.
at::Tensor batched_nms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                       double iou_threshold);

}  // namespace mbmd::ops
