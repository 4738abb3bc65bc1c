#include "mbmd/ops/anchor_generator.h"

#include <cmath>

#include "mbmd/core/error.h"

namespace mbmd::ops {

AnchorGenerator::AnchorGenerator(AnchorGeneratorOptions options) : options_(std::move(options)) {
  if (options_.strides.empty()) throw Error("anchor strides must not be empty");
  if (!options_.sizes.empty() && options_.sizes.size() != options_.strides.size())
    throw Error("anchor sizes must give one size per level (" +
                std::to_string(options_.strides.size()) + " levels)");
  if (options_.ratios.empty()) throw Error("anchor ratios must not be empty");
}

int64_t AnchorGenerator::anchors_per_location() const {
  const size_t scales = options_.sizes.empty() ? options_.scales.size() : 1;
  return static_cast<int64_t>(options_.ratios.size() * scales);
}

at::Tensor AnchorGenerator::base_anchors(size_t level) const {
  std::vector<double> sides;
  if (options_.sizes.empty()) {
    for (double scale : options_.scales) sides.push_back(scale * options_.strides[level]);
  } else {
    sides.push_back(options_.sizes[level]);
  }
  std::vector<float> values;
  // Ratio-major then scale, as both mmdetection (scale_major with one scale) and torchvision.
  for (double ratio : options_.ratios) {
    const double h_ratio = std::sqrt(ratio);
    const double w_ratio = 1.0 / h_ratio;
    for (double side : sides) {
      const double w = side * w_ratio;
      const double h = side * h_ratio;
      double box[4] = {-0.5 * w, -0.5 * h, 0.5 * w, 0.5 * h};
      for (double v : box) {
        // torchvision computes in float32 and rounds: round([-w, -h, w, h] / 2).
        values.push_back(options_.round_base ? std::nearbyint(static_cast<float>(v))
                                             : static_cast<float>(v));
      }
    }
  }
  return at::tensor(values).view({-1, 4});
}

std::vector<at::Tensor> AnchorGenerator::grid_anchors(
    const std::vector<std::pair<int64_t, int64_t>>& feature_sizes,
    std::pair<int64_t, int64_t> image_size, const at::TensorOptions& options) const {
  if (feature_sizes.size() != options_.strides.size())
    throw Error("anchor generator has " + std::to_string(options_.strides.size()) +
                " levels but got " + std::to_string(feature_sizes.size()) + " feature maps");
  std::vector<at::Tensor> anchors;
  for (size_t level = 0; level < feature_sizes.size(); ++level) {
    const auto [h, w] = feature_sizes[level];
    double stride_y = options_.strides[level];
    double stride_x = options_.strides[level];
    if (options_.stride_from_feature_size) {
      stride_y = static_cast<double>(image_size.first / h);
      stride_x = static_cast<double>(image_size.second / w);
    }
    const auto base = base_anchors(level).to(options);
    const auto shift_x = at::arange(w, options) * stride_x;
    const auto shift_y = at::arange(h, options) * stride_y;
    const auto grid = at::meshgrid({shift_y, shift_x}, "ij");
    const auto sx = grid[1].reshape(-1);
    const auto sy = grid[0].reshape(-1);
    const auto shifts = at::stack({sx, sy, sx, sy}, 1);
    anchors.push_back((shifts.view({-1, 1, 4}) + base.view({1, -1, 4})).reshape({-1, 4}));
  }
  return anchors;
}

}  // namespace mbmd::ops
