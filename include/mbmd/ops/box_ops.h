// Box utilities on [N, 4] tensors of x1 y1 x2 y2; widths are x2 - x1 (no +1), as mmdetection 2.x
// and torchvision.
#pragma once

#include <ATen/ATen.h>

namespace mbmd::ops {

at::Tensor box_area(const at::Tensor& boxes);

// Pairwise IoU, [N, M].
at::Tensor box_iou(const at::Tensor& a, const at::Tensor& b);

// Clips to an image of `height` x `width`: x to [0, width], y to [0, height].
at::Tensor clip_boxes(const at::Tensor& boxes, double height, double width);

// Indices of boxes whose width and height both exceed `min_size` (strictly).
at::Tensor boxes_larger_than(const at::Tensor& boxes, double min_size);

}  // namespace mbmd::ops
