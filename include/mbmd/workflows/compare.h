// `mbmd compare A B`: two detectors, or two ways of running one (plain and flip TTA, a model and an
// ensemble), on the same patients; B - A of each metric with a paired bootstrap interval
// (eval/paired_bootstrap.h; docs/training.md, "Comparing two runs").
#pragma once

#include <map>
#include <string>
#include <vector>

#include "mbmd/core/config.h"
#include "mbmd/eval/paired_bootstrap.h"

namespace mbmd::engine {

struct CompareOptions {
  // Each a COCO results file (on `gt`) or the work dir of a finished `mbmd cv` (its pooled test
  // parts: DIR/test_gt.json and DIR/test_dets.json).
  std::string a, b;
  std::string gt;  // the ground truth of results files; default: A's test_gt.json for a cv dir
  // Keys of the config's `eval` section given on the command line (hit, hit_iou, fppi_cap, ...);
  // they override a cv run's own eval section.
  Json eval_keys = Json::object();
  std::vector<std::string> metrics;  // empty: default_bootstrap_metrics()
  BootstrapOptions bootstrap;
};

struct CompareResult {
  std::string name_a, name_b, gt;
  EvalOptions eval;
  std::vector<std::string> metrics;
  std::map<std::string, PairedMetric> paired;
  // Where TPR and FPPI were measured, when not at the eval settings' own threshold (two cv runs:
  // at each fold's validation threshold); empty otherwise.
  std::string operating_point;
};

// mbmd::Error naming the file when an input is missing, is not a results file or a finished cv
// run, or when A and B are not on the same ground truth.
CompareResult run_compare(const CompareOptions& options);

}  // namespace mbmd::engine
