#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>

#include "fold_detector.h"
#include "mbmd/core/error.h"
#include "mbmd/core/json_file.h"
#include "mbmd/core/strings.h"
#include "mbmd/data/split.h"
#include "mbmd/inference/predictor.h"
#include "mbmd/pipeline/data_pipeline.h"
#include "mbmd/workflows/cv.h"

namespace mbmd::engine {
namespace fs = std::filesystem;
namespace {

// The fold's test evaluation at the operating threshold, where that threshold came from, and
// what was evaluated (eval.variant of the checkpoint).
struct FoldEvaluation {
  SetEvaluation test;
  std::string threshold_origin;
  std::string evaluated;
};

// The operating threshold comes from the validation part; without one, from the config or,
// failing that, from the test part itself (said in the report).
FoldEvaluation evaluate_fold(FoldResult& fold, const Json& config, const DataParts& parts,
                             const FoldOptions& options) {
  auto say = [&](const std::string& text) {
    if (options.progress) std::cerr << text << "\n" << std::flush;
  };
  FoldDetector detector(config, fold.checkpoint, (fs::path(fold.work_dir) / "last.ckpt").string());
  const SampleDetector detect = [&](const std::vector<data::Sample>& samples) {
    return detector.detect(samples);
  };
  auto evaluate_part = [&](const std::vector<data::Sample>& part, std::optional<double> t) {
    return evaluate_samples(detect, config, part, t, options.extra_iou_thrs);
  };
  std::optional<double> thr;
  const double given = config_at(config, "eval.score_thr").get<double>();
  if (given >= 0) thr = given;
  FoldEvaluation out;
  out.evaluated = detector.description();
  const std::string choice =
      threshold_choice_text(eval_options_from_config(config_at(config, "eval")));
  out.threshold_origin = thr ? "given (eval.score_thr)" : "on the validation part: " + choice;
  if (!parts.val.empty()) {
    say("evaluating " + out.evaluated + " on " + std::to_string(parts.val.size()) +
        " validation images");
    const SetEvaluation val = evaluate_part(parts.val, thr);
    fold.val_metrics = to_json(val.result);
    if (!thr) thr = val.result.operating_point.score_thr;
  } else if (!thr) {
    out.threshold_origin = "on the test part (no validation part): " + choice;
  }
  if (parts.test.empty())
    throw Error("permutation " + std::to_string(fold.permutation) + ": the test part is empty");
  say("evaluating on " + std::to_string(parts.test.size()) + " test images");
  out.test = evaluate_part(parts.test, thr);
  if (thr && !std::isfinite(*thr))  // evaluated at the largest double: report it as infinite
    out.test.result.operating_point.score_thr = std::numeric_limits<double>::infinity();
  fold.test_metrics = to_json(out.test.result);
  fold.score_thr = out.test.result.operating_point.score_thr;
  if (!thr) fold.val_metrics = Json();
  return out;
}

void write_fold_metrics(const fs::path& dir, const FoldResult& fold, const SetEvaluation& test) {
  write_json_file((dir / "val_metrics.json").string(), fold.val_metrics);
  write_json_file((dir / "test_metrics.json").string(), fold.test_metrics);
  Json dets = Json::array();
  for (size_t i = 0; i < test.samples.size(); ++i)
    for (auto& d : coco_results(test.samples[i].image_id, test.detections[i]))
      dets.push_back(std::move(d));
  write_json_file((dir / "test_dets.json").string(), dets);
}

// The fold's report.html: the training report plus the evaluated checkpoint's metrics, FROC and
// overlays of the test part.
void write_fold_report(const std::string& work_dir, const Json& config, const FoldResult& fold,
                       const FoldEvaluation& evaluation, int overlays) {
  const fs::path dir(work_dir);
  const SetEvaluation& test = evaluation.test;
  const std::string& threshold_origin = evaluation.threshold_origin;
  Report extra;
  extra.title = "mbmd fold " + std::to_string(fold.permutation) + ": " + dir.filename().string();
  extra.facts.push_back({"evaluated", evaluation.evaluated + " (" + fold.checkpoint + ")"});
  extra.facts.push_back({"images", std::to_string(fold.train_images) + " train, " +
                                       std::to_string(fold.val_images) + " validation, " +
                                       std::to_string(fold.test_images) + " test"});
  extra.facts.push_back({"operating threshold",
                         (std::isfinite(fold.score_thr) ? fixed_text(fold.score_thr)
                                                        : std::string("none (nothing detected)")) +
                             ", " + threshold_origin});
  add_checkpoint_evaluation(extra, "Evaluated checkpoint",
                            "FROC of the evaluated checkpoint (sensitivity against false "
                            "positives per image, log scale).",
                            fold.val_metrics, fold.test_metrics);
  const EvalOptions eo = test.result.options;
  extra.overlays =
      pick_overlays(test.samples, test.detections, fold.score_thr, eo.hit, eo.hit_iou, overlays);
  extra.notes.push_back(
      "Test-part films at the operating threshold. TPR and FPPI use the hit rule '" +
      to_string(eo.hit) + "'" +
      (eo.hit == HitRule::kIou ? " with IoU >= " + threshold_text(eo.hit_iou) : std::string()) +
      "; AP areas (S/M/L) are measured at short side " +
      config_at(config, "eval.area_scale_short_side").dump() + ".");
  write_train_report(work_dir, extra);
}

// Evaluates a trained fold on its parts and writes its metrics, test results and report.
void evaluate_and_write(FoldResult& fold, const Json& config, const FoldOptions& options,
                        SetEvaluation* test_out) {
  const data::Dataset dataset = read_dataset_from_config(config);
  const DataParts parts = split_dataset(config, dataset);
  fold.train_images = static_cast<int>(parts.train.size());
  fold.val_images = static_cast<int>(parts.val.size());
  fold.test_images = static_cast<int>(parts.test.size());
  FoldEvaluation evaluation = evaluate_fold(fold, config, parts, options);
  write_fold_metrics(fs::path(fold.work_dir), fold, evaluation.test);
  write_fold_report(fold.work_dir, config, fold, evaluation, options.overlays);
  if (test_out) *test_out = std::move(evaluation.test);
}

}  // namespace

SetEvaluation evaluate_samples(model::FasterRCNNImpl& model, const Json& config,
                               const std::vector<data::Sample>& samples,
                               std::optional<double> score_thr,
                               const std::vector<double>& extra_iou_thrs) {
  const SampleDetector detect = [&](const std::vector<data::Sample>& usable) {
    return detect_samples(model, config, usable);
  };
  return evaluate_samples(detect, config, samples, score_thr, extra_iou_thrs);
}

SetEvaluation evaluate_samples(const SampleDetector& detect, const Json& config,
                               const std::vector<data::Sample>& samples,
                               std::optional<double> score_thr,
                               const std::vector<double>& extra_iou_thrs) {
  SetEvaluation out;
  out.samples = usable_samples(samples);
  if (out.samples.empty()) throw Error("evaluation: no images to evaluate");
  out.detections = detect(out.samples);
  EvalSet set = make_eval_set(out.samples, out.detections);

  // Areas at the model's input scale (short side eval.area_scale_short_side) for S / M / L.
  const double short_side = config_at(config, "eval.area_scale_short_side").get<double>();
  if (short_side > 0) {
    std::map<std::string, double> factor;
    for (const auto& s : out.samples) {
      const double shortest = std::min(s.width, s.height);
      factor[s.image_id] = shortest > 0 ? short_side / shortest : 1.0;
    }
    for (auto& gt : set.ground_truths) {
      const double f = factor[gt.image_id];
      gt.area = (gt.box[2] - gt.box[0]) * (gt.box[3] - gt.box[1]) * f * f;
    }
  }
  EvalOptions options = eval_options_from_config(config_at(config, "eval"));
  for (double thr : extra_iou_thrs) {
    bool listed = false;
    for (double t : options.iou_thrs) listed |= std::abs(t - thr) < 1e-9;
    if (!listed) options.iou_thrs.push_back(thr);
  }
  if (score_thr)
    // An infinite threshold (validation found none under the FPPI cap) detects nothing.
    options.score_thr = std::isfinite(*score_thr) ? *score_thr : std::numeric_limits<double>::max();
  out.result = evaluate(set, options);
  return out;
}

FoldResult run_fold(const Json& config, const std::string& work_dir, const FoldOptions& options,
                    SetEvaluation* test_out) {
  FoldResult fold;
  fold.permutation = config_at(config, "data.permutation").get<int>();
  fold.work_dir = work_dir;
  const fs::path dir(work_dir);

  TrainOptions train_options;
  train_options.work_dir = work_dir;
  train_options.resume = options.resume && fs::exists(dir / "last.ckpt");
  train_options.progress = options.progress;
  fold.train = train(config, train_options);
  fold.checkpoint =
      fold.train.best_checkpoint.empty() ? fold.train.last_checkpoint : fold.train.best_checkpoint;

  evaluate_and_write(fold, config, options, test_out);
  return fold;
}

FoldResult reevaluate_fold(const Json& config, FoldResult fold, const FoldOptions& options) {
  evaluate_and_write(fold, config, options, nullptr);
  return fold;
}

}  // namespace mbmd::engine
