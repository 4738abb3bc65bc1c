#include "mbmd/ops/box_coder.h"

#include <cmath>

namespace mbmd::ops {

namespace {
// |log(16 / 1000)|: the largest width or height change a delta may ask for.
const double kMaxRatio = std::abs(std::log(16.0 / 1000.0));
}  // namespace

BoxCoder::BoxCoder(std::array<double, 4> stds, bool clamp_min)
    : stds_(stds), clamp_min_(clamp_min) {}

at::Tensor BoxCoder::encode(const at::Tensor& anchors, const at::Tensor& gt) const {
  const auto pw = anchors.select(1, 2) - anchors.select(1, 0);
  const auto ph = anchors.select(1, 3) - anchors.select(1, 1);
  const auto px = anchors.select(1, 0) + 0.5 * pw;
  const auto py = anchors.select(1, 1) + 0.5 * ph;
  const auto gw = gt.select(1, 2) - gt.select(1, 0);
  const auto gh = gt.select(1, 3) - gt.select(1, 1);
  const auto gx = gt.select(1, 0) + 0.5 * gw;
  const auto gy = gt.select(1, 1) + 0.5 * gh;
  return at::stack({(gx - px) / pw / stds_[0], (gy - py) / ph / stds_[1],
                    at::log(gw / pw) / stds_[2], at::log(gh / ph) / stds_[3]},
                   1);
}

at::Tensor BoxCoder::decode(const at::Tensor& anchors, const at::Tensor& deltas) const {
  const auto d = deltas.reshape({deltas.size(0), -1, 4});
  const auto widths = (anchors.select(1, 2) - anchors.select(1, 0)).unsqueeze(1);
  const auto heights = (anchors.select(1, 3) - anchors.select(1, 1)).unsqueeze(1);
  const auto ctr_x = anchors.select(1, 0).unsqueeze(1) + 0.5 * widths;
  const auto ctr_y = anchors.select(1, 1).unsqueeze(1) + 0.5 * heights;
  const auto dx = d.select(2, 0) * stds_[0];
  const auto dy = d.select(2, 1) * stds_[1];
  auto dw = d.select(2, 2) * stds_[2];
  auto dh = d.select(2, 3) * stds_[3];
  if (clamp_min_) {
    dw = dw.clamp(-kMaxRatio, kMaxRatio);
    dh = dh.clamp(-kMaxRatio, kMaxRatio);
  } else {
    dw = dw.clamp_max(kMaxRatio);
    dh = dh.clamp_max(kMaxRatio);
  }
  const auto cx = dx * widths + ctr_x;
  const auto cy = dy * heights + ctr_y;
  const auto w = at::exp(dw) * widths;
  const auto h = at::exp(dh) * heights;
  return at::stack({cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h}, 2)
      .reshape({deltas.size(0), -1});
}

}  // namespace mbmd::ops
