// `mbmd eval --gt GT.json --dets DETS.json`: the paper's metrics (docs/design.md, "Metrics") for a
// COCO ground-truth file and a COCO results file; `mbmd eval --checkpoint CKPT [--config CFG]
// [--split test|val|train|FILE]`: the same metrics for a trained model on a part of its dataset.
// Both go through mbmd::engine::evaluate with the same options.
#include <iostream>
#include <sstream>

#include "arg_parser.h"
#include "command.h"
#include "eval_flags.h"
#include "mbmd/core/config.h"
#include "mbmd/core/error.h"
#include "mbmd/eval/bootstrap.h"
#include "mbmd/eval/coco_io.h"
#include "mbmd/eval/evaluate.h"
#include "mbmd/inference/predictor.h"
#include "mbmd/workflows/evaluate_checkpoint.h"

namespace mbmd::cli {
namespace {

// The table (or one JSON object), with the bootstrap intervals when --bootstrap N > 0.
void print_result(const ArgParser& parser, const engine::EvalSet& set,
                  const engine::EvalResult& result) {
  engine::BootstrapOptions bootstrap;
  bootstrap.resamples = parser.get_int("bootstrap");
  bootstrap.seed = static_cast<uint64_t>(parser.get_int("seed"));
  if (bootstrap.resamples < 0) throw Error("option --bootstrap: must not be negative");
  const auto metrics = engine::default_bootstrap_metrics();
  engine::BootstrapResult intervals;
  if (bootstrap.resamples > 0)
    intervals = engine::bootstrap_with_froc_band(set, result.options, metrics, bootstrap);
  if (parser.has("json")) {
    Json j = engine::to_json(result);
    if (bootstrap.resamples > 0) j["bootstrap"] = engine::bootstrap_to_json(intervals, bootstrap);
    std::cout << j.dump() << "\n";
    return;
  }
  std::cout << engine::format_table(result);
  if (bootstrap.resamples > 0)
    std::cout << engine::format_intervals(intervals.metrics, metrics, bootstrap);
}

int eval_model(const ArgParser& parser) {
  if (parser.has("gt") || parser.has("dets"))
    throw Error("--checkpoint evaluates a model: leave out --gt and --dets");
  engine::CheckpointEvalOptions options;
  options.checkpoint = parser.get("checkpoint");
  if (parser.has("config")) options.config = load_config(parser.get("config"));
  options.overrides = parser.get_all("set");
  options.eval_keys = eval_flags(parser);
  options.split = parser.get("split");
  if (parser.has("score-thr")) options.score_thr = parser.get_double("score-thr");
  const engine::SetEvaluation evaluation = engine::evaluate_checkpoint(options);
  print_result(parser, engine::make_eval_set(evaluation.samples, evaluation.detections),
               evaluation.result);
  return 0;
}

constexpr const char* kSummary =
    "AP at IoU thresholds (COCO rules), AP@50 by box size, TPR and FPPI at an "
    "operating point, FROC and CPM\nfor a COCO ground-truth file and a COCO "
    "results file.\n\nexample: mbmd eval --gt test_gt.json --dets dets.json "
    "--hit center --json";

}  // namespace

int eval_command(const Args& args) {
  ArgParser parser("eval", kSummary);
  parser.option("gt", "COCO ground-truth file (images, annotations, categories)")
      .option("dets", "COCO results file: [{image_id, category_id, bbox, score}, ...]")
      .option("iou-thrs", "IoU thresholds of the APs, comma separated", "0.2,0.5,0.75")
      .option("max-dets", "detections per image that AP looks at", "100")
      .option("hit", "when a detection finds a mass: iou (IoU >= --iou) or center", "iou")
      .option("iou", "IoU a hit needs with --hit iou", "0.5")
      .option("score-thr",
              "operating score threshold for TPR and FPPI (default: the best TPR at FPPI <= "
              "--fppi-cap)")
      .option("fppi-cap", "highest FPPI allowed when choosing the threshold", "1.0")
      .option("threshold-rule",
              "which threshold when several reach the best TPR under the cap: highest, middle or "
              "lowest",
              "highest")
      .flag("exclude-normals", "leave images without ground truth out of FPPI")
      .flag("json", "print one JSON object instead of the table")
      .option("bootstrap",
              "also 95% confidence intervals from this many patient-level bootstrap resamples "
              "(stratified by patients with and without masses; 0: none)",
              "0")
      .option("seed", "seed of the bootstrap resamples", "0")
      .option("checkpoint", "evaluate this trained model instead of a results file")
      .option("config", "with --checkpoint: config (default: the one stored in the checkpoint)")
      .option("split", "with --checkpoint: test, val, train (the config's parts) or a COCO file",
              "test")
      .option("set", "with --checkpoint: override a config key: key=value", "", true);
  if (!parser.parse(args)) return 0;
  if (parser.has("checkpoint")) return eval_model(parser);
  if (!parser.has("gt") || !parser.has("dets"))
    throw Error(
        "mbmd eval needs --gt GT.json and --dets DETS.json, or --checkpoint CKPT (see mbmd eval "
        "--help)");

  engine::EvalOptions options;
  options.iou_thrs = parse_thresholds(parser.get("iou-thrs"));
  options.max_dets = parser.get_int("max-dets");
  if (options.max_dets < 1) throw Error("option --max-dets: must be at least 1");
  options.hit = engine::parse_hit_rule(parser.get("hit"));
  options.hit_iou = parser.get_double("iou");
  if (!(options.hit_iou > 0.0 && options.hit_iou <= 1.0))
    throw Error("option --iou: must be in (0, 1], got " + parser.get("iou"));
  if (parser.has("score-thr")) options.score_thr = parser.get_double("score-thr");
  options.fppi_cap = parser.get_double("fppi-cap");
  if (!(options.fppi_cap >= 0.0)) throw Error("option --fppi-cap: must not be negative");
  try {
    options.threshold_rule = engine::parse_threshold_rule(parser.get("threshold-rule"));
  } catch (const Error& e) {
    throw Error(std::string("option --threshold-rule: ") + e.what());
  }
  options.count_normals = !parser.has("exclude-normals");

  engine::EvalSet set = engine::read_coco_ground_truth(parser.get("gt"));
  set.detections = engine::read_coco_results(parser.get("dets"), set);
  print_result(parser, set, engine::evaluate(set, options));
  return 0;
}

}  // namespace mbmd::cli
