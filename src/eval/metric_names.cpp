#include "mbmd/eval/metric_names.h"

#include <algorithm>
#include <map>

#include "mbmd/core/error.h"
#include "mbmd/eval/evaluate.h"

namespace mbmd::engine {
using Json = nlohmann::json;
namespace {

const std::vector<std::string>& field_metrics() {
  static const std::vector<std::string> names = {"ap50_small", "ap50_medium",    "ap50_large",
                                                 "tpr",        "fppi",           "cpm",
                                                 "score_thr",  "true_positives", "false_positives",
                                                 "num_images", "num_masses",     "num_detections"};
  return names;
}

}  // namespace

// IoU threshold of "apNN", or -1.
double ap_metric_iou(const std::string& name) {
  if (name.size() < 3 || name.size() > 5 || name.compare(0, 2, "ap") != 0) return -1.0;
  const std::string digits = name.substr(2);
  if (digits.find_first_not_of("0123456789") != std::string::npos) return -1.0;
  const double value = std::stod(digits) / 100.0;
  return value > 0.0 && value <= 1.0 ? value : -1.0;
}

// FPPI of "sens@F", or -1.
double sens_metric_fppi(const std::string& name) {
  if (name.rfind("sens@", 0) != 0) return -1.0;
  try {
    size_t used = 0;
    const std::string text = name.substr(5);
    const double value = std::stod(text, &used);
    return used == text.size() && value > 0.0 ? value : -1.0;
  } catch (const std::exception&) {
    return -1.0;
  }
}

std::string metric_display_name(const std::string& name) {
  if (const double iou = ap_metric_iou(name); iou > 0) return "AP@" + name.substr(2);
  if (sens_metric_fppi(name) > 0) return "Sens@" + name.substr(5) + " FPPI";
  static const std::map<std::string, std::string> names = {{"ap50_small", "AP@50 S"},
                                                           {"ap50_medium", "AP@50 M"},
                                                           {"ap50_large", "AP@50 L"},
                                                           {"tpr", "TPR"},
                                                           {"fppi", "FPPI"},
                                                           {"cpm", "CPM"},
                                                           {"score_thr", "score threshold"}};
  const auto it = names.find(name);
  return it == names.end() ? name : it->second;
}

bool metric_lower_is_better(const std::string& name) { return name == "fppi"; }

std::vector<std::string> default_cv_metrics() {
  return {"ap20", "ap50", "ap75", "ap50_small", "ap50_medium", "ap50_large", "tpr", "fppi", "cpm"};
}

void check_metric_name(const std::string& name) {
  if (ap_metric_iou(name) > 0 || sens_metric_fppi(name) > 0) return;
  const auto& fields = field_metrics();
  if (std::find(fields.begin(), fields.end(), name) != fields.end()) return;
  std::string known;
  for (const auto& f : fields) known += ", " + f;
  throw Error("unknown metric '" + name + "': use apNN (e.g. ap50), sens@F (e.g. sens@0.5)" +
              known);
}

double metric_value(const Json& metrics, const std::string& name) {
  check_metric_name(name);
  const Json* value = nullptr;
  std::string where;
  if (const double iou = ap_metric_iou(name); iou > 0) {
    where = "ap." + threshold_text(iou);
    if (metrics.contains("ap") && metrics["ap"].contains(threshold_text(iou)))
      value = &metrics["ap"][threshold_text(iou)];
  } else if (const double fppi = sens_metric_fppi(name); fppi > 0) {
    where = "sensitivity_at." + threshold_text(fppi);
    if (metrics.contains("sensitivity_at") &&
        metrics["sensitivity_at"].contains(threshold_text(fppi)))
      value = &metrics["sensitivity_at"][threshold_text(fppi)];
  } else {
    where = name;
    if (metrics.contains(name)) value = &metrics[name];
  }
  if (!value)
    throw Error("metric '" + name + "': the evaluation has no '" + where +
                "' (for apNN add the threshold to eval.iou_thrs)");
  if (value->is_null()) return -1.0;  // e.g. an infinite score threshold
  if (!value->is_number()) throw Error("metric '" + name + "' is not a number");
  return value->get<double>();
}

void check_best_metric(const std::string& name) {
  if (ap_metric_iou(name) > 0 || name == "cpm" || name == "tpr") return;
  throw Error(
      "config key 'train.best_metric' must be \"apNN\" (e.g. \"ap50\"), \"cpm\" or "
      "\"tpr\", got \"" +
      name + "\"");
}

}  // namespace mbmd::engine
