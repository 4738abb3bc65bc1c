#include "mbmd/eval/evaluate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "mbmd/core/error.h"

namespace mbmd::engine {
namespace {

using nlohmann::json;

double config_number(const json& section, const char* name, double fallback) {
  const auto found = section.find(name);
  if (found == section.end()) return fallback;
  if (!found->is_number())
    throw Error(std::string("config key eval.") + name + ": expected a number, got " +
                found->dump());
  return found->get<double>();
}

// -1 (undefined) as "-", else four decimals.
std::string cell(double value) {
  if (value < 0) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", value);
  return text;
}

json value_or_null(double value) { return std::isfinite(value) ? json(value) : json(nullptr); }

}  // namespace

EvalOptions eval_options_from_config(const json& eval_section) {
  if (!eval_section.is_object())
    throw Error("config key eval: expected an object, got " + eval_section.dump());
  EvalOptions options;
  if (const auto thrs = eval_section.find("iou_thrs"); thrs != eval_section.end()) {
    if (!thrs->is_array())
      throw Error("config key eval.iou_thrs: expected a list of numbers, got " + thrs->dump());
    options.iou_thrs.clear();
    for (const auto& t : *thrs) {
      if (!t.is_number())
        throw Error("config key eval.iou_thrs: expected numbers, got " + t.dump());
      options.iou_thrs.push_back(t.get<double>());
    }
  }
  if (const auto hit = eval_section.find("hit"); hit != eval_section.end()) {
    if (!hit->is_string()) throw Error("config key eval.hit: expected \"iou\" or \"center\"");
    options.hit = parse_hit_rule(hit->get<std::string>());
  }
  options.hit_iou = config_number(eval_section, "hit_iou", options.hit_iou);
  const double score_thr = config_number(eval_section, "score_thr", -1.0);
  if (score_thr >= 0) options.score_thr = score_thr;
  options.fppi_cap = config_number(eval_section, "fppi_cap", options.fppi_cap);
  if (const auto rule = eval_section.find("threshold_rule"); rule != eval_section.end()) {
    try {
      options.threshold_rule =
          parse_threshold_rule(rule->is_string() ? rule->get<std::string>() : rule->dump());
    } catch (const Error& e) {
      throw Error(std::string("config key eval.threshold_rule: ") + e.what());
    }
  }
  if (const auto normals = eval_section.find("count_normals"); normals != eval_section.end()) {
    if (!normals->is_boolean())
      throw Error("config key eval.count_normals: expected true or false, got " + normals->dump());
    options.count_normals = normals->get<bool>();
  }
  return options;
}

std::string threshold_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

std::string threshold_choice_text(const EvalOptions& options) {
  return "best TPR at FPPI <= " + threshold_text(options.fppi_cap) + ", " +
         to_string(options.threshold_rule) + " of the tied thresholds";
}

EvalResult evaluate(const EvalSet& set, const EvalOptions& options) {
  if (!(options.fppi_cap >= 0))
    throw Error("the FPPI cap must not be negative, got " + std::to_string(options.fppi_cap));
  if (options.score_thr && !std::isfinite(*options.score_thr))
    throw Error("the score threshold must be a finite number");
  EvalResult result;
  result.options = options;

  // AP@50 per area range is always reported, so 0.5 is evaluated even when not asked for.
  CocoApParams params;
  params.iou_thrs = options.iou_thrs;
  params.max_dets = options.max_dets;
  const auto has_50 = std::any_of(options.iou_thrs.begin(), options.iou_thrs.end(),
                                  [](double t) { return std::abs(t - 0.5) < 1e-9; });
  if (!has_50) params.iou_thrs.push_back(0.5);
  const CocoApResult coco = coco_average_precision(set, params);
  for (double t : options.iou_thrs) result.ap.emplace_back(t, coco.ap_at(t, "all"));
  result.ap50_small = coco.ap_at(0.5, "small");
  result.ap50_medium = coco.ap_at(0.5, "medium");
  result.ap50_large = coco.ap_at(0.5, "large");

  const DetectionRates rates(set, {options.hit, options.hit_iou, options.count_normals});
  result.froc = rates.froc();
  for (double x : cpm_fppi_points()) result.sensitivity_at.emplace_back(x, rates.sensitivity_at(x));
  result.cpm = rates.cpm();
  result.score_thr_chosen = !options.score_thr.has_value();
  result.operating_point = options.score_thr
                               ? rates.at(*options.score_thr)
                               : rates.best_under(options.fppi_cap, options.threshold_rule);
  result.num_images = rates.num_images();
  result.num_masses = rates.num_masses();
  result.num_detections = static_cast<int64_t>(set.detections.size());
  return result;
}

json to_json(const EvalResult& r) {
  json out;
  out["ap"] = json::object();
  for (const auto& [t, ap] : r.ap) out["ap"][threshold_text(t)] = ap;
  out["ap50_small"] = r.ap50_small;
  out["ap50_medium"] = r.ap50_medium;
  out["ap50_large"] = r.ap50_large;
  out["tpr"] = r.operating_point.tpr;
  out["fppi"] = r.operating_point.fppi;
  out["score_thr"] = value_or_null(r.operating_point.score_thr);
  out["score_thr_chosen"] = r.score_thr_chosen;
  out["true_positives"] = r.operating_point.true_positives;
  out["false_positives"] = r.operating_point.false_positives;
  out["froc"] = json::array();
  out["froc_score_thrs"] = json::array();
  for (const auto& p : r.froc) {
    out["froc"].push_back({p.fppi, p.tpr});
    out["froc_score_thrs"].push_back(p.score_thr);
  }
  out["sensitivity_at"] = json::object();
  for (const auto& [x, s] : r.sensitivity_at) out["sensitivity_at"][threshold_text(x)] = s;
  out["cpm"] = r.cpm;
  out["num_images"] = r.num_images;
  out["num_masses"] = r.num_masses;
  out["num_detections"] = r.num_detections;
  out["hit"] = to_string(r.options.hit);
  out["hit_iou"] = r.options.hit_iou;
  out["fppi_cap"] = r.options.fppi_cap;
  out["threshold_rule"] = to_string(r.options.threshold_rule);
  out["count_normals"] = r.options.count_normals;
  out["max_dets"] = r.options.max_dets;
  return out;
}

std::string format_table(const EvalResult& r) {
  std::ostringstream out;
  out << "images " << r.num_images << (r.options.count_normals ? "" : " (normal images left out)")
      << ", masses " << r.num_masses << ", detections " << r.num_detections << "\n\n";
  out << "COCO AP (101-point, at most " << r.options.max_dets << " detections per image)\n";
  out << "  IoU     AP\n";
  for (const auto& [t, ap] : r.ap) {
    char line[64];
    std::snprintf(line, sizeof line, "  %-6s  %s\n", threshold_text(t).c_str(), cell(ap).c_str());
    out << line;
  }
  out << "  AP@50 small / medium / large: " << cell(r.ap50_small) << " / " << cell(r.ap50_medium)
      << " / " << cell(r.ap50_large) << "\n\n";

  const OperatingPoint& op = r.operating_point;
  out << "Operating point (hit: "
      << (r.options.hit == HitRule::kIou ? "IoU >= " + threshold_text(r.options.hit_iou)
                                         : std::string("centre inside"))
      << ")\n";
  out << "  score threshold "
      << (std::isfinite(op.score_thr) ? threshold_text(op.score_thr) : "none")
      << (r.score_thr_chosen ? "  (" + threshold_choice_text(r.options) + ")" : "  (given)")
      << "\n";
  out << "  TPR  " << cell(op.tpr) << "  (" << op.true_positives << " of " << r.num_masses
      << " masses)\n";
  out << "  FPPI " << cell(op.fppi) << "  (" << op.false_positives << " false positives on "
      << r.num_images << " images)\n\n";

  out << "FROC sensitivity at FPPI\n ";
  for (const auto& [x, s] : r.sensitivity_at) {
    char head[16];
    std::snprintf(head, sizeof head, " %7s", threshold_text(x).c_str());
    out << head;
  }
  out << "      CPM\n ";
  for (const auto& [x, s] : r.sensitivity_at) {
    char value[16];
    std::snprintf(value, sizeof value, " %7s", cell(s).c_str());
    out << value;
  }
  char cpm[16];
  std::snprintf(cpm, sizeof cpm, "  %7s", cell(r.cpm).c_str());
  out << cpm << "\n";
  return out.str();
}

}  // namespace mbmd::engine
