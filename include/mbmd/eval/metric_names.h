// The metric vocabulary every command shares: how a metric is named in configs and on the
// command line ("ap50", "sens@0.5", "cpm", ...), how it is shown in tables, and how its value is
// read from an evaluation's JSON (to_json of evaluate.h).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mbmd::engine {

// IoU threshold of "apNN" (0 < NN/100 <= 1), or -1 for any other name.
double ap_metric_iou(const std::string& name);

// FPPI of "sens@F" (F > 0), or -1 for any other name.
double sens_metric_fppi(const std::string& name);

// How tables show a metric: "ap50" -> "AP@50", "sens@0.5" -> "Sens@0.5 FPPI", "tpr" -> "TPR".
std::string metric_display_name(const std::string& name);

// Whether less of the metric is better: "fppi" (false positives per image). Every other metric a
// comparison reports (AP, TPR, CPM, sensitivities) is better higher.
bool metric_lower_is_better(const std::string& name);

// The metrics a summary lists by default: AP@20/50/75, AP@50 small/medium/large, TPR and FPPI at
// the validation-chosen operating point, and the CPM.
std::vector<std::string> default_cv_metrics();

// A metric of a to_json object by name: "apNN" (AP at IoU NN/100), "sens@F" (sensitivity at F
// FPPI), or a number field of to_json ("tpr", "fppi", "cpm", "ap50_small", "score_thr", ...).
// Returns -1 when the value is undefined (no ground truth for it); throws mbmd::Error for a name
// that is none of these or that `metrics` lacks.
double metric_value(const nlohmann::json& metrics, const std::string& name);

// Throws mbmd::Error for a name metric_value can never answer (before hours of training).
void check_metric_name(const std::string& name);

// Throws mbmd::Error naming the config key train.best_metric unless `name` is one the trainer
// can select checkpoints by: "apNN", "cpm" or "tpr".
void check_best_metric(const std::string& name);

}  // namespace mbmd::engine
