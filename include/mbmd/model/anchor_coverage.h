// How well the anchors fit the boxes to be found (docs/training.md, "Anchor coverage"): for each
// training box, at the input size the model sees it, the best IoU that any anchor reaches. A box
// whose best anchor stays below the RPN's positive threshold (rpn.assigner.pos_iou_thr, 0.7) only
// becomes a positive through the assigner's fallback, a weaker signal: the share of boxes that
// reach it says whether the anchor scales and ratios suit the masses.
#pragma once

#include <ATen/ATen.h>

#include <utility>
#include <vector>

#include "mbmd/model/detector_options.h"

namespace mbmd::model {

struct AnchorCoverage {
  std::vector<double> best_iou;  // per box, in the order given
  double pos_iou_thr = 0.7;
  int64_t covered = 0;  // boxes whose best IoU >= pos_iou_thr

  double share() const {
    return best_iou.empty() ? 0.0 : static_cast<double>(covered) / best_iou.size();
  }
  double median_best_iou() const;
};

// The boxes of each image (original pixels, [N, 4] x1 y1 x2 y2) of size (height, width), resized
// as options.input says and padded to its size divisor, against every anchor of every level
// (feature maps of ceil(padded / stride)).
AnchorCoverage anchor_coverage(const DetectorOptions& options,
                               const std::vector<std::pair<int64_t, int64_t>>& image_sizes,
                               const std::vector<at::Tensor>& boxes);

}  // namespace mbmd::model
