// Confidence intervals by patient-level bootstrap, as the field reports test numbers: patients
// (not images) are drawn with replacement, separately among patients with and without masses, so
// that every resample keeps the test part's mix; each resample is evaluated like the test part,
// and the interval is the 2.5th and 97.5th percentile of each metric over the resamples.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "mbmd/eval/evaluate.h"

namespace mbmd::engine {

struct BootstrapOptions {
  int64_t resamples = 1000;
  uint64_t seed = 0;
  double level = 0.95;  // central interval
};

struct MetricInterval {
  double value = -1;  // on the set itself (-1: undefined)
  double low = -1, high = -1;
  int64_t defined = 0;  // resamples where the metric is defined
};

// Patients of `set` (its patient_ids, or the image when none), split into those with at least one
// ground-truth box and those without; in each resample every stratum is drawn with replacement
// to its own size. Returns, per resample, the drawn patients in draw order.
std::vector<std::vector<std::string>> draw_patient_resamples(const EvalSet& set,
                                                             const BootstrapOptions& options);

// The set made of the drawn patients' images (a patient drawn twice counts twice; repeated
// images get distinct ids "<id>#<k>").
EvalSet resampled_set(const EvalSet& set, const std::vector<std::string>& patients);

// numpy.percentile's default (linear interpolation between closest ranks), q in [0, 100].
double percentile(std::vector<double> values, double q);

// `options` with the AP thresholds that the metrics name ("ap20" needs IoU 0.2) added; every
// name is checked (mbmd::Error for an unknown one).
EvalOptions with_metric_thresholds(const EvalOptions& options,
                                   const std::vector<std::string>& metrics);

// One point of the FROC's confidence band (docs/commands.md, "report.html"): the sensitivity at
// `fppi` on the set and its central interval over the resamples.
struct FrocBandPoint {
  double fppi = 0;
  double sensitivity = -1;  // on the set itself (-1: no masses)
  double low = -1, high = -1;
  int64_t defined = 0;  // resamples where it is defined
};

// The band's FPPI grid: 2^(k/4) for k = -12..12, 1/8 to 8 FPPI in 25 steps even on the log axis
// the FROC is drawn on; the CPM's seven points are among them, exactly.
std::vector<double> froc_band_fppis();

// The sensitivity at `fppi` on an evaluation's FROC: the highest with FPPI <= fppi, as
// DetectionRates::sensitivity_at gives it (0 when no point is that low, -1 without masses).
double froc_sensitivity_at(const EvalResult& result, double fppi);

struct BootstrapResult {
  std::map<std::string, MetricInterval> metrics;
  std::vector<FrocBandPoint> froc_band;  // one point per FPPI asked for, in that order
};

// The value of each metric on `set` and its central interval at `level` over the given
// resamples (each a list of drawn patients, as draw_patient_resamples gives them), and the FROC
// band at `band_fppis` from the same resamples.
BootstrapResult bootstrap_over_resamples(const EvalSet& set, const EvalOptions& eval_options,
                                         const std::vector<std::string>& metrics,
                                         const std::vector<std::vector<std::string>>& resamples,
                                         double level, const std::vector<double>& band_fppis);

// bootstrap_over_resamples without a band.
std::map<std::string, MetricInterval> intervals_over_resamples(
    const EvalSet& set, const EvalOptions& eval_options, const std::vector<std::string>& metrics,
    const std::vector<std::vector<std::string>>& resamples, double level);

// The interval of each metric (metric_names.h vocabulary: "ap20", "tpr", "sens@0.5", ...) over
// the resamples; values a resample leaves undefined (-1) are left out of its percentiles.
std::map<std::string, MetricInterval> bootstrap_intervals(const EvalSet& set,
                                                          const EvalOptions& eval_options,
                                                          const std::vector<std::string>& metrics,
                                                          const BootstrapOptions& options);

// bootstrap_intervals with the FROC band on froc_band_fppis(), from the same resamples.
BootstrapResult bootstrap_with_froc_band(const EvalSet& set, const EvalOptions& eval_options,
                                         const std::vector<std::string>& metrics,
                                         const BootstrapOptions& options);

// The metrics reported with intervals by default: AP@20 and AP@50, TPR and FPPI at the operating
// point, CPM, and the sensitivity at each FROC point.
std::vector<std::string> default_bootstrap_metrics();

// "metric  value  [low, high]" lines, and {"<metric>": {"value", "low", "high", "defined"}}.
std::string format_intervals(const std::map<std::string, MetricInterval>& intervals,
                             const std::vector<std::string>& order,
                             const BootstrapOptions& options);
// {"resamples", "seed", "level", "metrics": {}}: the head of every bootstrap JSON object.
nlohmann::json bootstrap_json_head(const BootstrapOptions& options);
// null for a value that is undefined (-1), else the value.
nlohmann::json defined_or_null(double value);

nlohmann::json intervals_to_json(const std::map<std::string, MetricInterval>& intervals,
                                 const BootstrapOptions& options);

// [{"fppi", "sensitivity", "low", "high", "defined"}, ...] (null for undefined values).
nlohmann::json froc_band_to_json(const std::vector<FrocBandPoint>& band);

// intervals_to_json of the metrics, with "froc_band" when the result has a band.
nlohmann::json bootstrap_to_json(const BootstrapResult& result, const BootstrapOptions& options);

}  // namespace mbmd::engine
