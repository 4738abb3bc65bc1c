// CUDA kernel of (batched) non-maximum suppression (src/ops/nms.cpp checks and dispatches here).
#pragma once

#include <ATen/ATen.h>

namespace mbmd::ops::cuda {

// Greedy NMS over the boxes ranked by a stable descending sort of `scores`. When `labels` (int64
// [N]) is defined, only boxes with equal labels suppress each other. Returns the int64 indices of
// the kept boxes in rank order. Arguments are checked by the caller; compiled only with
// MBMD_WITH_CUDA.
at::Tensor nms_kernel(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& labels,
                      double iou_threshold);

}  // namespace mbmd::ops::cuda
