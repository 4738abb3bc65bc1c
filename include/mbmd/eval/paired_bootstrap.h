// Two detectors (or two ways of running one) compared on the same patients: the difference of
// each metric, B - A, with a confidence interval from paired patient-level bootstrap resamples
// (each resample draws the same patients for A and B, as eval's intervals draw them), so that
// what the patients share cancels out of the difference.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "mbmd/eval/bootstrap.h"
#include "mbmd/eval/evaluate.h"

namespace mbmd::engine {

struct PairedMetric {
  double a = -1, b = -1;      // on the whole set (-1: undefined)
  MetricInterval difference;  // value = b - a; low, high over the resamples
  double b_better = -1;       // share of resamples (with both defined) where b is better:
                              // higher, or lower for a metric_lower_is_better (FPPI)
};

// `a` and `b` must hold the same images, patients and ground truth (two results files on one
// ground truth); mbmd::Error otherwise. Metrics as in bootstrap_intervals.
std::map<std::string, PairedMetric> paired_bootstrap(const EvalSet& a, const EvalSet& b,
                                                     const EvalOptions& eval_options,
                                                     const std::vector<std::string>& metrics,
                                                     const BootstrapOptions& options);

// "metric  A  B  B-A [low, high]  P(B>A)" lines under a heading naming the resamples.
std::string format_paired(const std::map<std::string, PairedMetric>& paired,
                          const std::vector<std::string>& order, const std::string& name_a,
                          const std::string& name_b, const BootstrapOptions& options);
nlohmann::json paired_to_json(const std::map<std::string, PairedMetric>& paired,
                              const BootstrapOptions& options);

}  // namespace mbmd::engine
