#include "mbmd/eval/paired_bootstrap.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "mbmd/core/error.h"
#include "mbmd/eval/metric_names.h"

namespace mbmd::engine {
namespace {

// The same images, patients and boxes: two results of one ground truth.
void check_same_ground_truth(const EvalSet& a, const EvalSet& b) {
  if (a.image_ids != b.image_ids || a.patient_ids != b.patient_ids)
    throw Error("the two results are not on the same images and patients (" +
                std::to_string(a.image_ids.size()) + " and " + std::to_string(b.image_ids.size()) +
                " images): a paired comparison needs one ground truth");
  if (a.ground_truths.size() != b.ground_truths.size())
    throw Error("the two results have different ground truths (" +
                std::to_string(a.ground_truths.size()) + " and " +
                std::to_string(b.ground_truths.size()) + " boxes)");
  for (size_t i = 0; i < a.ground_truths.size(); ++i)
    if (a.ground_truths[i].image_id != b.ground_truths[i].image_id ||
        a.ground_truths[i].box != b.ground_truths[i].box)
      throw Error("the two results have different ground truths (box " + std::to_string(i) +
                  " of image " + a.ground_truths[i].image_id + ")");
}

}  // namespace

std::map<std::string, PairedMetric> paired_bootstrap(const EvalSet& a, const EvalSet& b,
                                                     const EvalOptions& eval_options,
                                                     const std::vector<std::string>& metrics,
                                                     const BootstrapOptions& options) {
  check_same_ground_truth(a, b);
  if (!(options.level > 0 && options.level < 1))
    throw Error("bootstrap level must be in (0, 1), got " + std::to_string(options.level));
  const EvalOptions with_thresholds = with_metric_thresholds(eval_options, metrics);
  std::map<std::string, PairedMetric> out;
  const nlohmann::json whole_a = to_json(evaluate(a, with_thresholds));
  const nlohmann::json whole_b = to_json(evaluate(b, with_thresholds));
  for (const auto& name : metrics) {
    PairedMetric& m = out[name];
    m.a = metric_value(whole_a, name);
    m.b = metric_value(whole_b, name);
    m.difference.value = m.a >= 0 && m.b >= 0 ? m.b - m.a : -1;
  }
  std::map<std::string, std::vector<double>> differences;
  for (const auto& patients : draw_patient_resamples(a, options)) {
    const nlohmann::json ma = to_json(evaluate(resampled_set(a, patients), with_thresholds));
    const nlohmann::json mb = to_json(evaluate(resampled_set(b, patients), with_thresholds));
    for (const auto& name : metrics) {
      const double va = metric_value(ma, name), vb = metric_value(mb, name);
      if (va >= 0 && vb >= 0) differences[name].push_back(vb - va);
    }
  }
  const double tail = (1.0 - options.level) / 2.0 * 100.0;
  for (const auto& name : metrics) {
    const auto& d = differences[name];
    PairedMetric& m = out[name];
    m.difference.defined = static_cast<int64_t>(d.size());
    m.difference.low = d.empty() ? 0 : percentile(d, tail);
    m.difference.high = d.empty() ? 0 : percentile(d, 100.0 - tail);
    const bool lower_better = metric_lower_is_better(name);
    size_t better = 0;
    for (double v : d) better += lower_better ? v < 0 : v > 0;
    m.b_better = d.empty() ? -1 : static_cast<double>(better) / static_cast<double>(d.size());
  }
  return out;
}

std::string format_paired(const std::map<std::string, PairedMetric>& paired,
                          const std::vector<std::string>& order, const std::string& name_a,
                          const std::string& name_b, const BootstrapOptions& options) {
  std::ostringstream out;
  out << "A: " << name_a << "\nB: " << name_b << "\n"
      << "B - A with " << static_cast<int>(std::lround(options.level * 100))
      << "% confidence intervals (paired patient-level bootstrap, stratified by patients with "
         "and without masses; "
      << options.resamples << " resamples, seed " << options.seed << ")\n";
  char line[200];
  std::snprintf(line, sizeof line, "  %-16s %8s %8s %9s  %-20s %7s\n", "metric", "A", "B", "B-A",
                "95% CI", "P(B better)");
  out << line;
  for (const auto& name : order) {
    const PairedMetric& m = paired.at(name);
    if (m.a < 0 || m.b < 0 || m.difference.defined == 0) {
      std::snprintf(line, sizeof line, "  %-16s n/a\n", metric_display_name(name).c_str());
    } else {
      char interval[64];
      std::snprintf(interval, sizeof interval, "[%+.4f, %+.4f]", m.difference.low,
                    m.difference.high);
      std::snprintf(line, sizeof line, "  %-16s %8.4f %8.4f %+9.4f  %-20s %7.3f\n",
                    metric_display_name(name).c_str(), m.a, m.b, m.difference.value, interval,
                    m.b_better);
    }
    out << line;
  }
  return out.str();
}

nlohmann::json paired_to_json(const std::map<std::string, PairedMetric>& paired,
                              const BootstrapOptions& options) {
  nlohmann::json out = bootstrap_json_head(options);
  const auto number = defined_or_null;
  for (const auto& [name, m] : paired) {
    const bool defined = m.a >= 0 && m.b >= 0 && m.difference.defined > 0;
    out["metrics"][name] = {{"a", number(m.a)},
                            {"b", number(m.b)},
                            {"difference", defined ? nlohmann::json(m.difference.value) : nullptr},
                            {"low", defined ? nlohmann::json(m.difference.low) : nullptr},
                            {"high", defined ? nlohmann::json(m.difference.high) : nullptr},
                            {"b_better", number(m.b_better)},
                            {"defined", m.difference.defined}};
  }
  return out;
}

}  // namespace mbmd::engine
