#include "mbmd/model/anchor_coverage.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "mbmd/core/error.h"
#include "mbmd/model/input_transform.h"
#include "mbmd/ops/box_ops.h"

namespace mbmd::model {
namespace {

int64_t padded(int64_t size, int64_t divisor) {
  return divisor > 0 ? (size + divisor - 1) / divisor * divisor : size;
}

// Every anchor of every level for a padded input of h x w, as one [A, 4] tensor.
at::Tensor all_anchors(const ops::AnchorGenerator& generator,
                       const ops::AnchorGeneratorOptions& options, int64_t h, int64_t w) {
  std::vector<std::pair<int64_t, int64_t>> feature_sizes;
  for (double stride : options.strides)
    feature_sizes.emplace_back(static_cast<int64_t>(std::ceil(h / stride)),
                               static_cast<int64_t>(std::ceil(w / stride)));
  return at::cat(generator.grid_anchors(feature_sizes, {h, w}, at::TensorOptions(at::kFloat)));
}

}  // namespace

double AnchorCoverage::median_best_iou() const {
  if (best_iou.empty()) return 0.0;
  std::vector<double> sorted = best_iou;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

AnchorCoverage anchor_coverage(const DetectorOptions& options,
                               const std::vector<std::pair<int64_t, int64_t>>& image_sizes,
                               const std::vector<at::Tensor>& boxes) {
  if (image_sizes.size() != boxes.size())
    throw Error("anchor coverage: " + std::to_string(image_sizes.size()) + " image sizes for " +
                std::to_string(boxes.size()) + " box lists");
  AnchorCoverage coverage;
  coverage.pos_iou_thr = options.rpn.assign.pos_iou_thr;
  const ops::AnchorGenerator generator(options.anchors);
  std::map<std::pair<int64_t, int64_t>, at::Tensor> anchors_by_size;  // films share sizes
  for (size_t i = 0; i < boxes.size(); ++i) {
    if (!boxes[i].defined() || boxes[i].size(0) == 0) continue;
    const auto [h, w] = image_sizes[i];
    const auto [rh, rw] = resized_size(h, w, options.input);
    const int64_t ph = padded(rh, options.input.size_divisor);
    const int64_t pw = padded(rw, options.input.size_divisor);
    auto& anchors = anchors_by_size[{ph, pw}];
    if (!anchors.defined()) anchors = all_anchors(generator, options.anchors, ph, pw);
    const at::Tensor scale = at::tensor({static_cast<float>(rw) / w, static_cast<float>(rh) / h,
                                         static_cast<float>(rw) / w, static_cast<float>(rh) / h});
    const at::Tensor input_boxes = boxes[i].to(at::kFloat) * scale;
    const at::Tensor best = std::get<0>(ops::box_iou(input_boxes, anchors).max(1));
    for (int64_t k = 0; k < best.size(0); ++k) {
      const double iou = best[k].item<double>();
      coverage.best_iou.push_back(iou);
      if (iou >= coverage.pos_iou_thr) ++coverage.covered;
    }
  }
  return coverage;
}

}  // namespace mbmd::model
