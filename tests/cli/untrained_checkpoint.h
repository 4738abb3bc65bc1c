// An untrained tiny detector saved as a training checkpoint, for the commands' tests: it scores
// about 0.5 everywhere, so with model.roi.test.score_thr 0 it always has detections to write.
#pragma once

#include <string>

#include "mbmd/model/detector.h"
#include "mbmd/train/checkpointing.h"
#include "synthetic_set.h"

namespace mbmd::testing {

// Writes `path` for the tiny config of the synthetic set `ann_file`.
inline void write_untrained_checkpoint(const std::string& path, const std::string& ann_file) {
  Json config = tiny_config(ann_file);
  apply_overrides(config, {"model.roi.test.score_thr=0.0"});
  at::manual_seed(0);
  model::FasterRCNN detector(model::detector_options_from_config(config));
  engine::save_training_checkpoint(path, *detector, nullptr, {}, config);
}

}  // namespace mbmd::testing
