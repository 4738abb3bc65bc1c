// Delta box coder (dx, dy, dw, dh) of Faster R-CNN. mmdetection's DeltaXYWHBBoxCoder with
// means 0 and `stds`; torchvision's BoxCoder weights are 1 / stds (RoI: 10, 10, 5, 5).
#pragma once

#include <ATen/ATen.h>

#include <array>

namespace mbmd::ops {

class BoxCoder {
 public:
  // clamp_min: mmdetection clamps dw, dh to [-c, c]; torchvision only from above.
  explicit BoxCoder(std::array<double, 4> stds, bool clamp_min = true);

  // Targets for `gt` relative to `anchors`, both [N, 4].
  at::Tensor encode(const at::Tensor& anchors, const at::Tensor& gt) const;

  // Boxes from deltas [N, 4 * k] relative to anchors [N, 4]; result [N, 4 * k].
  at::Tensor decode(const at::Tensor& anchors, const at::Tensor& deltas) const;

 private:
  std::array<double, 4> stds_;
  bool clamp_min_;
};

}  // namespace mbmd::ops
