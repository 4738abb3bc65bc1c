// The anchor-coverage line of a training log (docs/training.md, "Anchor coverage"): how well the
// anchors fit the training boxes at the size the network sees them.
#pragma once

#include <vector>

#include "mbmd/core/config.h"
#include "mbmd/data/sample.h"

namespace mbmd::engine {

// {"type": "anchor_coverage", "boxes", "covered", "share", "median_best_iou", "pos_iou_thr"} for
// the boxes of `train`. With input.crop_breast each film is read to find the region the network
// sees (holding its boxes, as in training), and the boxes are measured within it.
Json anchor_coverage_entry(const Json& config, const std::vector<data::Sample>& train);

}  // namespace mbmd::engine
