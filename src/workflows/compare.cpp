#include "mbmd/workflows/compare.h"

#include <filesystem>

#include "mbmd/core/error.h"
#include "mbmd/core/json_file.h"
#include "mbmd/eval/coco_io.h"

namespace mbmd::engine {
namespace {

namespace fs = std::filesystem;

// A side of the comparison: the results file, and for a cv run its pooled ground truth and eval
// section.
struct CompareSide {
  std::string dets, gt;
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
  return result;
}

}  // namespace mbmd::engine
