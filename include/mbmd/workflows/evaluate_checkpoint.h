// `mbmd eval --checkpoint`: the paper's metrics for a trained model on a part of its dataset
// (test, val, train) or on a COCO file, through the same evaluation as cross-validation.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mbmd/core/config.h"
#include "mbmd/eval/evaluate.h"
#include "mbmd/workflows/cv.h"

namespace mbmd::engine {

struct CheckpointEvalOptions {
  std::string checkpoint;
  std::optional<Json> config;          // none: the config stored in the checkpoint
  std::vector<std::string> overrides;  // "key=value", applied before the model is built
  Json eval_keys = Json::object();     // keys of the config's `eval` section to replace
  std::string split = "test";          // test, val, train, or a COCO ground-truth file
  std::optional<double> score_thr;     // none: chosen on the FROC (eval.fppi_cap)
  bool progress = true;                // say what is evaluated on stderr
};

// The images, the model's detections on them and their evaluation; mbmd::Error when the part
// holds no images, or for a bad checkpoint, config or file.
SetEvaluation evaluate_checkpoint(const CheckpointEvalOptions& options);

}  // namespace mbmd::engine
