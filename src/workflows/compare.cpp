#include "mbmd/workflows/compare.h"

#include <filesystem>
#include <limits>

#include "cv_pooled.h"
#include "mbmd/core/error.h"
#include "mbmd/core/json_file.h"
#include "mbmd/eval/coco_io.h"

namespace mbmd::engine {
namespace {

namespace fs = std::filesystem;

// A side of the comparison: the results file, and for a cv run its folder, pooled ground truth
// and eval section.
struct CompareSide {
  std::string dets, gt, cv_dir;
  Json eval_section = Json::object();
};

CompareSide side_of(const std::string& input) {
  CompareSide side;
  if (!fs::is_directory(input)) {
    if (!fs::is_regular_file(input)) throw Error(input + ": no such results file or cv folder");
    side.dets = input;
    return side;
  }
  const fs::path dir(input);
  side.cv_dir = input;
  side.dets = (dir / "test_dets.json").string();
  side.gt = (dir / "test_gt.json").string();
  if (!fs::exists(side.dets) || !fs::exists(side.gt))
    throw Error(input + ": not a finished `mbmd cv` run (no test_gt.json and test_dets.json; a " +
                "run of an older mbmd writes them with `mbmd cv --resume --work-dir " + input +
                "`)");
  if (fs::exists(dir / "config.json")) {
    const Json config = read_json_file((dir / "config.json").string(), "cv config");
    if (config.contains("eval")) side.eval_section = config["eval"];
  }
  return side;
}

EvalSet results_on(const std::string& dets, const EvalSet& gt) {
  EvalSet set = gt;
  set.detections = read_coco_results(dets, gt);
  return set;
}

// Two cv runs: TPR and FPPI at each fold's own validation threshold, as `mbmd cv` reports them,
// not at one threshold chosen on the pooled test parts.
void at_fold_operating_points(const CompareSide& a, const CompareSide& b, const EvalSet& gt,
                              const BootstrapOptions& bootstrap, CompareResult& result) {
  std::vector<std::string> metrics;
  for (const auto& m : result.metrics)
    if (m == "tpr" || m == "fppi") metrics.push_back(m);
  if (metrics.empty()) return;
  EvalSet operating_a = gt, operating_b = gt;
  operating_a.detections = pooled_at_fold_thresholds(a.cv_dir, gt);
  operating_b.detections = pooled_at_fold_thresholds(b.cv_dir, gt);
  EvalOptions keep_all = result.eval;
  keep_all.score_thr = std::numeric_limits<double>::lowest();
  for (auto& [name, metric] :
       paired_bootstrap(operating_a, operating_b, keep_all, metrics, bootstrap))
    result.paired[name] = metric;
  result.operating_point =
      "TPR and FPPI at each fold's own threshold, chosen on its validation part";
}

}  // namespace

CompareResult run_compare(const CompareOptions& options) {
  if (options.a.empty() || options.b.empty()) throw Error("compare needs two inputs, A and B");
  const CompareSide a = side_of(options.a), b = side_of(options.b);
  CompareResult result;
  result.gt = !options.gt.empty() ? options.gt : a.gt;
  if (result.gt.empty())
    throw Error("compare: give --gt GT.json for results files (a cv folder brings its own)");
  if (!b.gt.empty() && b.gt != result.gt) {
    const Json gt_a = read_json_file(result.gt, "ground truth");
    const Json gt_b = read_json_file(b.gt, "ground truth");
    if (gt_a.value("images", Json::array()) != gt_b.value("images", Json::array()) ||
        gt_a.value("annotations", Json::array()) != gt_b.value("annotations", Json::array()))
      throw Error(options.a + " and " + options.b + " were not tested on the same images (" +
                  result.gt + " and " + b.gt + " differ): a paired comparison needs one split");
  }
  Json eval_section = a.eval_section;
  for (const auto& [key, value] : options.eval_keys.items()) eval_section[key] = value;
  result.eval = eval_options_from_config(eval_section);
  result.metrics = options.metrics.empty() ? default_bootstrap_metrics() : options.metrics;
  const EvalSet gt = read_coco_ground_truth(result.gt);
  result.name_a = options.a;
  result.name_b = options.b;
  result.paired = paired_bootstrap(results_on(a.dets, gt), results_on(b.dets, gt), result.eval,
                                   result.metrics, options.bootstrap);
  if (!a.cv_dir.empty() && !b.cv_dir.empty())
    at_fold_operating_points(a, b, gt, options.bootstrap, result);
  return result;
}

}  // namespace mbmd::engine
