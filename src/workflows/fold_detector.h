// The model a cross-validation fold is evaluated as (config key eval.variant, docs/config.md):
// its evaluated checkpoint alone ("single"), with the mirrored pass merged in ("flip"), with the
// fold's last.ckpt merged in ("snapshot"), or both ("flip+snapshot"); the runs of each image are
// merged by weighted box fusion, as `mbmd predict --tta flip` and ensembles merge them. The
// operating threshold is chosen on the validation part's detections of that same model.
#pragma once

#include <string>
#include <vector>

#include "mbmd/core/config.h"
#include "mbmd/data/sample.h"
#include "mbmd/inference/predictor.h"

namespace mbmd::engine {

// The variants eval.variant names; another value is an mbmd::Error naming the key.
struct FoldVariant {
  bool flip = false;
  bool snapshot = false;
};
FoldVariant parse_fold_variant(const Json& config);

// An mbmd::Error naming the key when the config's eval section has a value evaluation would
// refuse (eval.variant, eval.threshold_rule, ...): a run checks it before it writes anything.
void check_eval_section(const Json& config);

// What each fold is evaluated as and how its operating threshold is chosen, in words, for
// reports: "eval.variant flip+snapshot; threshold on each fold's validation part: best TPR at
// FPPI <= 1, middle of the tied thresholds" (or the given eval.score_thr).
std::string evaluated_as_text(const Json& config);

class FoldDetector {
 public:
  // `checkpoint`: the fold's evaluated checkpoint; `last`: its last.ckpt (used by the snapshot
  // variants when it is another file).
  FoldDetector(const Json& config, const std::string& checkpoint, const std::string& last);

  // The detections of every sample (all must load), in sample order, original pixels.
  std::vector<model::Detections> detect(const std::vector<data::Sample>& samples);

  // "best.ckpt", or e.g. "best.ckpt + last.ckpt, flip TTA": what is evaluated, in words.
  const std::string& description() const { return description_; }

 private:
  Json config_;
  FoldVariant variant_;
  std::vector<LoadedDetector> models_;
  std::string description_;
};

}  // namespace mbmd::engine
