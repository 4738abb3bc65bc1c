#include "mbmd/workflows/cv.h"

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "cv_plan.h"
#include "cv_pooled.h"
#include "fold_detector.h"
#include "mbmd/core/atomic_file.h"
#include "mbmd/core/error.h"
#include "mbmd/core/json_file.h"
#include "mbmd/data/split.h"
#include "mbmd/eval/metric_names.h"
#include "mbmd/pipeline/data_pipeline.h"

namespace mbmd::engine {
namespace fs = std::filesystem;
namespace {

void check_cv_work_dir(const CvOptions& options) {
  if (options.work_dir.empty()) throw Error("cv needs a work dir");
  const fs::path dir(options.work_dir);
  if (fs::exists(dir) && !fs::is_directory(dir))
    throw Error("work dir " + options.work_dir + " is a file, not a folder");
  if (!options.resume && (fs::exists(dir / "summary.json") || fs::exists(dir / "fold0")))
    throw Error("work dir " + options.work_dir +
                " already holds a cross-validation run: continue it with --resume or choose "
                "another --work-dir");
  if (fs::exists(dir / "repeat_0"))
    throw Error("work dir " + options.work_dir +
                " holds a repeated cross-validation (repeat_0/): continue it with --resume and "
                "--repeats");
}

// A resumed run must go on with the config it started with: folds trained with another would
// mix in one summary. Keys of the run's environment may change (is_run_environment_key), and keys
// an older mbmd did not know are fine at their defaults.
void check_resumed_config(const Json& config, const CvOptions& options) {
  const fs::path saved = fs::path(options.work_dir) / "config.json";
  if (!options.resume || !fs::exists(saved)) return;
  std::string changes;
  int count = 0;
  bool only_eval = true;
  for (const auto& d : config_differences(read_json_file(saved.string()), config)) {
    if (is_run_environment_key(d.key)) continue;
    const bool eval_key = d.key.rfind("eval.", 0) == 0;
    if (options.reevaluate && eval_key) continue;
    if (d.before == "absent" && d.after == config_at(default_config(), d.key).dump()) continue;
    only_eval = only_eval && eval_key;
    if (++count <= 5) changes += "\n  " + d.key + ": " + d.before + " -> " + d.after;
  }
  if (count == 0) return;
  if (count > 5) changes += "\n  ... and " + std::to_string(count - 5) + " more";
  throw Error("--resume: " + saved.string() + " holds the config this run started with, and " +
              std::to_string(count) + " key(s) now differ:" + changes +
              "\nresume with the same --config and --set, or choose another --work-dir" +
              (only_eval ? "; only eval keys differ: --reevaluate evaluates the finished folds "
                           "again with them, without training"
                         : ""));
}

// The AP thresholds the summary's metrics need besides eval.iou_thrs (each name checked).
std::vector<double> metric_iou_thrs(const std::vector<std::string>& names) {
  std::vector<double> iou_thrs;
  for (const auto& n : names) {
    check_metric_name(n);
    if (const double iou = ap_metric_iou(n); iou > 0) iou_thrs.push_back(iou);
  }
  return iou_thrs;
}

// The parts: from --split-file, from a resumed run's split.json, or made from data.split_seed.
data::Split cv_split(const Json& config, const CvOptions& options, const data::Dataset& dataset,
                     const std::string& split_path, std::string* origin) {
  data::Split split;
  if (!options.split_file.empty()) {
    split = data::read_split(options.split_file);
    *origin = options.split_file;
  } else if (options.resume && fs::exists(split_path)) {
    split = data::read_split(split_path);
    *origin = split_path + " (kept from the run)";
  } else {
    split = data::make_split(dataset.samples, config_at(config, "data.split_seed").get<uint64_t>(),
                             dataset.root);
    *origin = "made with data.split_seed " + config_at(config, "data.split_seed").dump();
  }
  data::check_split(split, dataset.samples);
  return split;
}

// Every permutation to run must have images in each of its three parts.
void check_folds(const data::Split& split, const data::Dataset& dataset, int folds) {
  const int parts = static_cast<int>(split.parts.size());
  if (parts < 3)
    throw Error("a cross-validation split needs at least 3 parts, got " + std::to_string(parts));
  if (folds < 1 || folds > parts)
    throw Error("--folds must be in 1.." + std::to_string(parts) + ", got " +
                std::to_string(folds));
  for (int r = 0; r < folds; ++r) {
    const data::Fold fold = data::split_fold(split, r);
    const auto count = [&](const std::vector<std::string>& ids) {
      return usable_samples(data::select_samples(dataset.samples, ids)).size();
    };
    if (count(fold.train) == 0 || count(fold.val) == 0 || count(fold.test) == 0)
      throw Error("permutation " + std::to_string(r) + " has an empty part (" +
                  std::to_string(count(fold.train)) + " train, " + std::to_string(count(fold.val)) +
                  " validation, " + std::to_string(count(fold.test)) + " test images): the " +
                  "dataset has too few patients for " + std::to_string(parts) + " parts");
  }
}

// A finished fold as its fold.json keeps it, with its folder and checkpoint where the file is
// now: a run copied or moved since is evaluated from, and into, its own folder.
FoldResult moved_here(const fs::path& fold_file) {
  FoldResult fold = fold_from_json(read_json_file(fold_file.string()));
  fold.work_dir = fold_file.parent_path().string();
  fold.checkpoint = (fold_file.parent_path() / fs::path(fold.checkpoint).filename()).string();
  return fold;
}

// Whether permutation r is kept as it was: resumed, finished, and not to be evaluated again.
bool fold_kept(const CvOptions& options, int r) {
  return options.resume && !options.reevaluate &&
         fs::exists(fs::path(options.work_dir) / ("fold" + std::to_string(r)) / "fold.json");
}

// Permutation r of the run, or its result kept from before when resuming.
FoldResult cv_fold(const CvRun& run, const CvOptions& options, int r,
                   const std::vector<double>& iou_thrs) {
  const fs::path fold_dir = fs::path(run.work_dir) / ("fold" + std::to_string(r));
  const fs::path fold_file = fold_dir / "fold.json";
  const bool done = options.resume && fs::exists(fold_file);
  if (fold_kept(options, r)) {
    if (options.progress) std::cerr << "fold " << r << ": done before, kept\n";
    return fold_from_json(read_json_file(fold_file.string()));
  }
  Json fold_config = run.config;
  fold_config["data"]["split"] = "cv";
  fold_config["data"]["split_file"] = run.split_file;
  fold_config["data"]["permutation"] = r;
  if (options.progress)
    std::cerr << "fold " << r << " of " << options.folds << " (permutation " << r
              << "): " << fold_dir.string() << (done ? ", trained before: evaluated again" : "")
              << "\n";
  FoldOptions fold_options;
  fold_options.resume = options.resume;
  fold_options.progress = options.progress;
  fold_options.overlays = options.overlays;
  fold_options.extra_iou_thrs = iou_thrs;
  FoldResult fold = done ? reevaluate_fold(fold_config, moved_here(fold_file), fold_options)
                         : run_fold(fold_config, fold_dir.string(), fold_options);
  write_json_file(fold_file.string(), fold_to_json(fold));
  return fold;
}

}  // namespace

CvPlan plan_cv(const Json& config, const CvOptions& options) {
  if (options.reevaluate && !options.resume)
    throw Error("--reevaluate evaluates the folds of a run again: it needs --resume");
  // A bad eval or augment key is an error before the run folder is made.
  check_eval_section(config);
  augment_options_from_config(config);
  check_cv_work_dir(options);
  check_resumed_config(config, options);
  CvPlan plan;
  CvRun& run = plan.run;
  run.config = config;
  run.work_dir = options.work_dir;
  run.folds_planned = options.folds;
  run.metrics = options.metrics.empty() ? default_cv_metrics() : options.metrics;
  plan.iou_thrs = metric_iou_thrs(run.metrics);
  check_best_metric(config_at(config, "train.best_metric").get<std::string>());
  plan.dataset = read_dataset_from_config(config);
  run.dataset_name = plan.dataset.name;
  run.usable_images = static_cast<int>(usable_samples(plan.dataset.samples).size());
  if (run.usable_images == 0)
    throw Error("the dataset is empty: data.dataset \"" +
                config_at(config, "data.dataset").get<std::string>() + "\" (" +
                config_at(config, "data.ann_file").get<std::string>() +
                config_at(config, "data.root").get<std::string>() + ") gave no usable images");
  run.split_file = (fs::path(options.work_dir) / "split.json").string();
  plan.split = cv_split(config, options, plan.dataset, run.split_file, &run.split_origin);
  run.parts = static_cast<int>(plan.split.parts.size());
  check_folds(plan.split, plan.dataset, options.folds);
  return plan;
}

CvResult execute_cv(const CvPlan& plan, const CvOptions& options) {
  // Each finished fold updates the summary, so an interrupted run shows what it has.
  const CvRun& run = plan.run;
  const fs::path dir(options.work_dir);
  fs::create_directories(dir);
  data::write_split(run.split_file, plan.split);
  write_file_atomic((dir / "config.json").string(), run.config.dump(2) + "\n");
  CvResult result;
  result.split_file = run.split_file;
  result.summary_md = (dir / "summary.md").string();
  result.summary_csv = (dir / "summary.csv").string();
  result.summary_json = (dir / "summary.json").string();
  result.report = (dir / "report.html").string();
  for (int r = 0; r < options.folds; ++r) {
    const bool kept = fold_kept(options, r);
    result.folds.push_back(cv_fold(run, options, r, plan.iou_thrs));
    if (!kept) write_cv_summary(run, result);
  }
  write_cv_summary(run, result);
  write_fold_variants(options.work_dir, plan.dataset, plan.split, options.folds, options.progress);
  write_pooled_test_results(options.work_dir, plan.dataset, plan.split, options.folds);
  result.intervals = pooled_intervals(options.work_dir, run.config, BootstrapOptions{});
  result.pooled_bootstrap = read_pooled_bootstrap(options.work_dir);
  if (!result.pooled_bootstrap.is_null()) write_cv_report(run, result);  // now with the band
  result.variants = compare_test_variants(options.work_dir, run.config, BootstrapOptions{});
  return result;
}

CvResult run_cv(const Json& config, const CvOptions& options) {
  return execute_cv(plan_cv(config, options), options);
}

}  // namespace mbmd::engine
