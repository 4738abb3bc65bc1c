// `mbmd compare A B`: the paired bootstrap difference of two results on the same patients
// (docs/training.md, "Comparing two runs"). Options only; the work is mbmd::engine::run_compare
// (workflows/compare.h).
#include <iostream>

#include "arg_parser.h"
#include "command.h"
#include "eval_flags.h"
#include "mbmd/core/error.h"
#include "mbmd/core/strings.h"
#include "mbmd/workflows/compare.h"

namespace mbmd::cli {
namespace {

constexpr const char* kSummary =
    "Compares two results on the same patients: B - A of AP@20, AP@50, TPR, FPPI, CPM and the\n"
    "sensitivity at each FROC point, each with a 95% confidence interval from a paired\n"
    "patient-level bootstrap (the same patients drawn for A and B in every resample, stratified\n"
    "by patients with and without masses), and the share of resamples where B is better.\n"
    "A and B are COCO results files on --gt, or the work dirs of two `mbmd cv` runs on the same\n"
    "split (their pooled test parts). Evaluation settings: a cv run's own eval section, or the\n"
    "flags below.\n\n"
    "examples: mbmd compare runs/cv_fpn runs/cv_mhfpn\n"
    "          mbmd compare --gt runs/cv_fpn/test_gt.json plain.json tta.json";

}  // namespace

int compare_command(const Args& args) {
  engine::CompareOptions options;
  std::string metrics;
  ArgParser parser("compare", kSummary);
  parser.positional("A", "results file or cv folder (the reference)")
      .positional("B", "results file or cv folder (compared with A)")
      .option("gt", "COCO ground truth of results files (default: A's test_gt.json)")
      .to(&options.gt)
      .option("hit", "when a detection finds a mass: iou or center (default: A's config, or iou)")
      .option("iou", "IoU a hit needs with --hit iou (default: A's config, or 0.5)")
      .option("fppi-cap", "highest FPPI allowed when choosing the operating threshold")
      .option("threshold-rule",
              "which threshold when several reach the best TPR under the cap: highest, middle or "
              "lowest (default: A's config, or highest)")
      .flag("exclude-normals", "leave images without ground truth out of FPPI")
      .option("metrics", "metrics, comma separated (apNN, tpr, fppi, cpm, sens@F)")
      .to(&metrics)
      .option("bootstrap", "paired resamples", "1000")
      .to(&options.bootstrap.resamples)
      .option("seed", "seed of the resamples", "0")
      .flag("json", "print one JSON object instead of the table");
  if (!parser.parse(args)) return 0;
  if (parser.positionals().size() != 2)
    throw Error("compare needs two inputs, A and B (see mbmd compare --help)");
  options.a = parser.positionals()[0];
  options.b = parser.positionals()[1];
  options.bootstrap.seed = static_cast<uint64_t>(parser.get_int("seed"));
  options.eval_keys = eval_flags(parser);
  for (const auto& m : split(metrics, ','))
    if (!trim(m).empty()) options.metrics.push_back(trim(m));
  const engine::CompareResult result = engine::run_compare(options);
  if (parser.has("json")) {
    Json j = engine::paired_to_json(result.paired, options.bootstrap);
    j["a"] = result.name_a;
    j["b"] = result.name_b;
    j["gt"] = result.gt;
    if (!result.operating_point.empty()) j["operating_point"] = result.operating_point;
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::cout << engine::format_paired(result.paired, result.metrics, result.name_a, result.name_b,
                                     options.bootstrap);
  if (!result.operating_point.empty()) std::cout << result.operating_point << "\n";
  return 0;
}

}  // namespace mbmd::cli
