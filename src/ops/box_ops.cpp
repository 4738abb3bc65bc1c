#include "mbmd/ops/box_ops.h"

namespace mbmd::ops {

at::Tensor box_area(const at::Tensor& boxes) {
  return (boxes.select(1, 2) - boxes.select(1, 0)) * (boxes.select(1, 3) - boxes.select(1, 1));
}

at::Tensor box_iou(const at::Tensor& a, const at::Tensor& b) {
  const auto area_a = box_area(a);
  const auto area_b = box_area(b);
  const auto lt = at::max(a.slice(1, 0, 2).unsqueeze(1), b.slice(1, 0, 2).unsqueeze(0));
  const auto rb = at::min(a.slice(1, 2, 4).unsqueeze(1), b.slice(1, 2, 4).unsqueeze(0));
  const auto wh = (rb - lt).clamp_min(0);
  const auto inter = wh.select(2, 0) * wh.select(2, 1);
  const auto uni = area_a.unsqueeze(1) + area_b.unsqueeze(0) - inter;
  // Degenerate pairs (zero union) get IoU 0 rather than NaN.
  return inter / uni.clamp_min(1e-12);
}

at::Tensor clip_boxes(const at::Tensor& boxes, double height, double width) {
  auto x =
      boxes.index_select(1, at::tensor({0, 2}, boxes.options().dtype(at::kLong))).clamp(0, width);
  auto y =
      boxes.index_select(1, at::tensor({1, 3}, boxes.options().dtype(at::kLong))).clamp(0, height);
  return at::stack({x.select(1, 0), y.select(1, 0), x.select(1, 1), y.select(1, 1)}, 1);
}

at::Tensor boxes_larger_than(const at::Tensor& boxes, double min_size) {
  const auto w = boxes.select(1, 2) - boxes.select(1, 0);
  const auto h = boxes.select(1, 3) - boxes.select(1, 1);
  return at::nonzero((w > min_size).logical_and(h > min_size)).squeeze(1);
}

}  // namespace mbmd::ops
