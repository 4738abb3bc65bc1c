// The paper's metrics in one call (docs/design.md, "Metrics"): COCO AP at several IoU thresholds,
// AP@50 per area range, TPR and FPPI at an operating threshold (given, or the best TPR at
// FPPI <= a cap), the FROC curve and the CPM. `mbmd eval` prints what this returns.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mbmd/eval/coco_ap.h"
#include "mbmd/eval/froc.h"
#include "mbmd/eval/types.h"

namespace mbmd::engine {

struct EvalOptions {
  std::vector<double> iou_thrs{0.2, 0.5, 0.75};
  int max_dets = 100;
  HitRule hit = HitRule::kIou;
  double hit_iou = 0.5;
  std::optional<double> score_thr;  // none: chosen as the best TPR at FPPI <= fppi_cap
  double fppi_cap = 1.0;
  ThresholdRule threshold_rule = ThresholdRule::kHighest;  // which of the tied thresholds
  bool count_normals = true;
};

// From the config's `eval` section (iou_thrs, hit, hit_iou, score_thr (< 0: choose), fppi_cap,
// threshold_rule, count_normals); keys it lacks keep their defaults.
EvalOptions eval_options_from_config(const nlohmann::json& eval_section);

struct EvalResult {
  EvalOptions options;
  std::vector<std::pair<double, double>> ap;  // (IoU threshold, AP), in options order
  double ap50_small = -1.0;
  double ap50_medium = -1.0;
  double ap50_large = -1.0;
  OperatingPoint operating_point;  // score_thr is +infinity when nothing may be detected
  bool score_thr_chosen = false;   // true when picked on the FROC rather than given
  std::vector<OperatingPoint> froc;
  std::vector<std::pair<double, double>> sensitivity_at;  // (FPPI, sensitivity)
  double cpm = -1.0;
  int64_t num_images = 0;  // images counted for FPPI
  int64_t num_masses = 0;
  int64_t num_detections = 0;
};

EvalResult evaluate(const EvalSet& set, const EvalOptions& options = {});

// Threshold text as used for JSON keys: 0.5 -> "0.5", 0.125 -> "0.125".
std::string threshold_text(double value);

// How the operating threshold is chosen when none is given, in words: "best TPR at FPPI <= 1,
// middle of the tied thresholds".
std::string threshold_choice_text(const EvalOptions& options);

// {"ap": {"0.2": .., ...}, "ap50_small", "ap50_medium", "ap50_large", "tpr", "fppi", "score_thr"
// (null for +infinity), "score_thr_chosen", "true_positives", "false_positives", "froc": [[fppi,
// sensitivity], ...], "froc_score_thrs": [...], "sensitivity_at": {"0.125": .., ...}, "cpm",
// "num_images", "num_masses", "num_detections", "hit", "hit_iou", "fppi_cap", "threshold_rule",
// "count_normals",
// "max_dets"}. -1 marks a value without ground truth to define it, as in pycocotools.
nlohmann::json to_json(const EvalResult& result);

// A readable table of the same numbers.
std::string format_table(const EvalResult& result);

}  // namespace mbmd::engine
