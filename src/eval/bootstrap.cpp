#include "mbmd/eval/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <set>
#include <sstream>
#include <unordered_map>

#include "mbmd/core/error.h"
#include "mbmd/eval/metric_names.h"

namespace mbmd::engine {
namespace {

std::string patient_of(const EvalSet& set, size_t i) {
  if (i < set.patient_ids.size() && !set.patient_ids[i].empty()) return set.patient_ids[i];
  return "image:" + set.image_ids[i];
}

// Patients with and without masses, each list sorted so that draws depend on the seed alone.
std::pair<std::vector<std::string>, std::vector<std::string>> strata(const EvalSet& set) {
  std::set<std::string> with_mass_images;
  for (const auto& g : set.ground_truths)
    if (!g.ignored()) with_mass_images.insert(g.image_id);
  std::set<std::string> with, all;
  for (size_t i = 0; i < set.image_ids.size(); ++i) {
    all.insert(patient_of(set, i));
    if (with_mass_images.count(set.image_ids[i])) with.insert(patient_of(set, i));
  }
  std::vector<std::string> without;
  for (const auto& p : all)
    if (!with.count(p)) without.push_back(p);
  return {std::vector<std::string>(with.begin(), with.end()), without};
}

}  // namespace

std::vector<std::vector<std::string>> draw_patient_resamples(const EvalSet& set,
                                                             const BootstrapOptions& options) {
  if (options.resamples < 1)
    throw Error("--bootstrap: at least one resample, got " + std::to_string(options.resamples));
  const auto [with, without] = strata(set);
  std::mt19937_64 rng(options.seed);
  std::vector<std::vector<std::string>> out(static_cast<size_t>(options.resamples));
  for (auto& drawn : out) {
    for (const auto* stratum : {&with, &without})
      for (size_t k = 0; k < stratum->size(); ++k)
        drawn.push_back((*stratum)[rng() % stratum->size()]);
  }
  return out;
}

EvalSet resampled_set(const EvalSet& set, const std::vector<std::string>& patients) {
  std::unordered_map<std::string, std::vector<size_t>> images_of;
  for (size_t i = 0; i < set.image_ids.size(); ++i) images_of[patient_of(set, i)].push_back(i);
  std::unordered_map<std::string, std::vector<const GroundTruth*>> gts;
  for (const auto& g : set.ground_truths) gts[g.image_id].push_back(&g);
  std::unordered_map<std::string, std::vector<const Detection*>> dets;
  for (const auto& d : set.detections) dets[d.image_id].push_back(&d);
  EvalSet out;
  out.categories = set.categories;
  std::unordered_map<std::string, int> times_drawn;
  for (const auto& patient : patients) {
    const int k = times_drawn[patient]++;
    for (size_t i : images_of.at(patient)) {
      const std::string& id = set.image_ids[i];
      const std::string new_id = k == 0 ? id : id + "#" + std::to_string(k);
      out.image_ids.push_back(new_id);
      out.patient_ids.push_back(patient + (k == 0 ? "" : "#" + std::to_string(k)));
      for (const GroundTruth* g : gts[id]) {
        out.ground_truths.push_back(*g);
        out.ground_truths.back().image_id = new_id;
      }
      for (const Detection* d : dets[id]) {
        out.detections.push_back(*d);
        out.detections.back().image_id = new_id;
      }
    }
  }
  return out;
}

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return -1;
  std::sort(values.begin(), values.end());
  const double position = q / 100.0 * static_cast<double>(values.size() - 1);
  const auto below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, values.size() - 1);
  return values[below] + (values[above] - values[below]) * (position - static_cast<double>(below));
}

EvalOptions with_metric_thresholds(const EvalOptions& options,
                                   const std::vector<std::string>& metrics) {
  EvalOptions out = options;
  for (const auto& name : metrics) {
    check_metric_name(name);
    const double iou = ap_metric_iou(name);
    if (iou <= 0) continue;
    bool listed = false;
    for (double t : out.iou_thrs) listed |= std::abs(t - iou) < 1e-9;
    if (!listed) out.iou_thrs.push_back(iou);
  }
  return out;
}

std::vector<double> froc_band_fppis() {
  std::vector<double> grid;
  for (int k = -12; k <= 12; ++k) grid.push_back(std::exp2(k / 4.0));
  return grid;
}

double froc_sensitivity_at(const EvalResult& result, double fppi) {
  if (result.num_masses == 0) return -1.0;
  double best = 0.0;
  for (const OperatingPoint& p : result.froc)
    if (p.fppi <= fppi) best = std::max(best, p.tpr);
  return best;
}

BootstrapResult bootstrap_over_resamples(const EvalSet& set, const EvalOptions& eval_options,
                                         const std::vector<std::string>& metrics,
                                         const std::vector<std::vector<std::string>>& resamples,
                                         double level, const std::vector<double>& band_fppis) {
  for (const auto& name : metrics) check_metric_name(name);
  if (!(level > 0 && level < 1))
    throw Error("bootstrap level must be in (0, 1), got " + std::to_string(level));
  const EvalOptions with_thresholds = with_metric_thresholds(eval_options, metrics);
  BootstrapResult out;
  const EvalResult whole = evaluate(set, with_thresholds);
  const nlohmann::json whole_json = to_json(whole);
  for (const auto& name : metrics) out.metrics[name].value = metric_value(whole_json, name);
  for (double fppi : band_fppis)
    out.froc_band.push_back({fppi, froc_sensitivity_at(whole, fppi), -1, -1, 0});
  std::map<std::string, std::vector<double>> samples;
  std::vector<std::vector<double>> band_samples(band_fppis.size());
  for (const auto& patients : resamples) {
    const EvalResult r = evaluate(resampled_set(set, patients), with_thresholds);
    const nlohmann::json m = to_json(r);
    for (const auto& name : metrics)
      if (const double v = metric_value(m, name); v >= 0) samples[name].push_back(v);
    for (size_t k = 0; k < band_fppis.size(); ++k)
      if (const double v = froc_sensitivity_at(r, band_fppis[k]); v >= 0)
        band_samples[k].push_back(v);
  }
  const double tail = (1.0 - level) / 2.0 * 100.0;
  for (const auto& name : metrics) {
    MetricInterval& interval = out.metrics[name];
    interval.defined = static_cast<int64_t>(samples[name].size());
    interval.low = percentile(samples[name], tail);
    interval.high = percentile(samples[name], 100.0 - tail);
  }
  for (size_t k = 0; k < band_fppis.size(); ++k) {
    FrocBandPoint& point = out.froc_band[k];
    point.defined = static_cast<int64_t>(band_samples[k].size());
    point.low = percentile(band_samples[k], tail);
    point.high = percentile(band_samples[k], 100.0 - tail);
  }
  return out;
}

std::map<std::string, MetricInterval> intervals_over_resamples(
    const EvalSet& set, const EvalOptions& eval_options, const std::vector<std::string>& metrics,
    const std::vector<std::vector<std::string>>& resamples, double level) {
  return bootstrap_over_resamples(set, eval_options, metrics, resamples, level, {}).metrics;
}

std::map<std::string, MetricInterval> bootstrap_intervals(const EvalSet& set,
                                                          const EvalOptions& eval_options,
                                                          const std::vector<std::string>& metrics,
                                                          const BootstrapOptions& options) {
  if (!(options.level > 0 && options.level < 1))
    throw Error("bootstrap level must be in (0, 1), got " + std::to_string(options.level));
  return intervals_over_resamples(set, eval_options, metrics, draw_patient_resamples(set, options),
                                  options.level);
}

BootstrapResult bootstrap_with_froc_band(const EvalSet& set, const EvalOptions& eval_options,
                                         const std::vector<std::string>& metrics,
                                         const BootstrapOptions& options) {
  if (!(options.level > 0 && options.level < 1))
    throw Error("bootstrap level must be in (0, 1), got " + std::to_string(options.level));
  return bootstrap_over_resamples(set, eval_options, metrics, draw_patient_resamples(set, options),
                                  options.level, froc_band_fppis());
}

std::vector<std::string> default_bootstrap_metrics() {
  return {"ap20",      "ap50",     "tpr",    "fppi",   "cpm",    "sens@0.125",
          "sens@0.25", "sens@0.5", "sens@1", "sens@2", "sens@4", "sens@8"};
}

std::string format_intervals(const std::map<std::string, MetricInterval>& intervals,
                             const std::vector<std::string>& order,
                             const BootstrapOptions& options) {
  std::ostringstream out;
  out << "\n"
      << static_cast<int>(std::lround(options.level * 100))
      << "% confidence intervals (patient-level bootstrap, stratified by patients with and "
         "without masses; "
      << options.resamples << " resamples, seed " << options.seed << ")\n";
  char line[160];
  for (const auto& name : order) {
    const MetricInterval& m = intervals.at(name);
    if (m.value < 0 || m.defined == 0) {
      std::snprintf(line, sizeof line, "  %-16s n/a\n", metric_display_name(name).c_str());
    } else {
      std::snprintf(line, sizeof line, "  %-16s %.4f  [%.4f, %.4f]\n",
                    metric_display_name(name).c_str(), m.value, m.low, m.high);
    }
    out << line;
  }
  return out.str();
}

nlohmann::json bootstrap_json_head(const BootstrapOptions& options) {
  return {{"resamples", options.resamples},
          {"seed", options.seed},
          {"level", options.level},
          {"metrics", nlohmann::json::object()}};
}

nlohmann::json defined_or_null(double value) {
  return value < 0 ? nlohmann::json() : nlohmann::json(value);
}

nlohmann::json intervals_to_json(const std::map<std::string, MetricInterval>& intervals,
                                 const BootstrapOptions& options) {
  nlohmann::json out = bootstrap_json_head(options);
  const auto number = defined_or_null;
  for (const auto& [name, m] : intervals)
    out["metrics"][name] = {{"value", number(m.value)},
                            {"low", number(m.low)},
                            {"high", number(m.high)},
                            {"defined", m.defined}};
  return out;
}

nlohmann::json froc_band_to_json(const std::vector<FrocBandPoint>& band) {
  nlohmann::json out = nlohmann::json::array();
  for (const FrocBandPoint& p : band)
    out.push_back({{"fppi", p.fppi},
                   {"sensitivity", defined_or_null(p.sensitivity)},
                   {"low", defined_or_null(p.low)},
                   {"high", defined_or_null(p.high)},
                   {"defined", p.defined}});
  return out;
}

nlohmann::json bootstrap_to_json(const BootstrapResult& result, const BootstrapOptions& options) {
  nlohmann::json out = intervals_to_json(result.metrics, options);
  if (!result.froc_band.empty()) out["froc_band"] = froc_band_to_json(result.froc_band);
  return out;
}

}  // namespace mbmd::engine
