// Anchors per feature level, in mmdetection 2.x's AnchorGenerator layout (location-major, then
// ratio, then scale), with torchvision's two variants as options
// (docs/design.md, "Faster R-CNN defaults" and "torchvision compatibility").
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace mbmd::ops {

struct AnchorGeneratorOptions {
  std::vector<double> strides{4, 8, 16, 32, 64};
  std::vector<double> ratios{0.5, 1.0, 2.0};  // height / width
  std::vector<double> scales{8.0};            // anchor side = scale * stride (mmdetection)
  // torchvision: absolute sizes per level (32..512) replace scale * stride when given.
  std::vector<double> sizes;
  bool round_base = false;  // torchvision rounds the base anchors to integers
  // torchvision: a level's stride is the padded image size // the feature map size, per axis.
  bool stride_from_feature_size = false;
};

class AnchorGenerator {
 public:
  explicit AnchorGenerator(AnchorGeneratorOptions options);

  int64_t anchors_per_location() const;
  size_t num_levels() const { return options_.strides.size(); }

  // The [A, 4] anchors centred on the origin for one level.
  at::Tensor base_anchors(size_t level) const;

  // Anchors for every level: feature sizes are (height, width) per level; the image size is
  // the padded batch size (used only with stride_from_feature_size). Each is [H * W * A, 4].
  std::vector<at::Tensor> grid_anchors(
      const std::vector<std::pair<int64_t, int64_t>>& feature_sizes,
      std::pair<int64_t, int64_t> image_size, const at::TensorOptions& options) const;

 private:
  AnchorGeneratorOptions options_;
};

}  // namespace mbmd::ops
