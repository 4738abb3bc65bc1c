#include "mbmd/workflows/demo.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>

#include "mbmd/core/atomic_file.h"
#include "mbmd/core/config.h"
#include "mbmd/core/error.h"
#include "mbmd/core/threads.h"
#include "mbmd/data/image_io.h"
#include "mbmd/data/split.h"
#include "mbmd/data/synthetic/phantom.h"
#include "mbmd/inference/predictor.h"
#include "mbmd/pipeline/data_pipeline.h"
#include "mbmd/report/overlay.h"
#include "mbmd/report/report.h"
#include "mbmd/workflows/cv.h"

namespace mbmd::engine {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Say = std::function<void(const std::string&)>;

std::string minutes(Clock::time_point since) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f min",
                std::chrono::duration<double>(Clock::now() - since).count() / 60.0);
  return text;
}

// "320x416" -> (320, 416).
std::pair<int, int> parse_size(const std::string& text) {
  int w = 0, h = 0;
  char x = 0, rest = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c", &w, &x, &h, &rest) != 3 || (x != 'x' && x != 'X'))
    throw Error("option --film-size: expected WIDTHxHEIGHT such as 320x416, got '" + text + "'");
  return {w, h};
}

void check_demo_options(const DemoOptions& o) {
  if (o.data != "phantom" && o.data != "mias")
    throw Error("option --data: expected phantom or mias, got '" + o.data + "'");
  if (o.data == "mias" && o.root.empty())
    throw Error("--data mias needs --root DIR, the mini-MIAS folder");
  if (o.data == "phantom" && !o.root.empty())
    throw Error("--root is for --data mias; the phantom is made in WORK_DIR/data");
  if (o.seed < 0) throw Error("option --seed: must not be negative");
  const fs::path dir(o.work_dir);
  if (fs::exists(dir) && !fs::is_directory(dir))
    throw Error("work dir " + dir.string() + " is a file, not a folder");
  if (fs::exists(dir / "run" / "last.ckpt") || fs::exists(dir / "report.html"))
    throw Error("work dir " + dir.string() +
                " already holds a demo run: choose another --work-dir (nothing was changed)");
}

Json demo_config(const DemoOptions& o) {
  Json config =
      load_config(!o.config.empty() ? o.config : std::string(o.quick ? "demo_quick" : "demo"));
  apply_overrides(config, o.overrides);
  if (o.threads >= 0) config["runtime"]["threads"] = o.threads;
  return config;
}

// Makes the phantom in WORK_DIR/data and points the config at it; returns the data in words.
std::string make_phantom_data(const DemoOptions& o, Json& config, const Say& say) {
  data::PhantomOptions phantom;
  phantom.seed = static_cast<uint64_t>(o.seed);
  phantom.patients = o.patients >= 0 ? o.patients : (o.quick ? 10 : 40);
  const auto size =
      parse_size(!o.film_size.empty() ? o.film_size : std::string(o.quick ? "96x128" : "320x416"));
  phantom.width = size.first;
  phantom.height = size.second;
  data::check_phantom_options(phantom);
  const std::string folder = (fs::path(o.work_dir) / "data").string();
  const std::string film_size =
      std::to_string(phantom.width) + "x" + std::to_string(phantom.height);
  say("1/5 making the phantom: " + std::to_string(phantom.patients) + " patients, " +
      std::to_string(2 * phantom.patients) + " films of " + film_size + " in " + folder);
  data::Dataset made;
  const std::string json = data::write_phantom(phantom, folder, &made);
  const auto summary = data::summarize(made);
  config["data"]["dataset"] = "coco";
  config["data"]["ann_file"] = json;
  config["data"]["root"] = "";
  return "synthetic phantom (seed " + std::to_string(o.seed) +
         "): " + std::to_string(summary.images) + " films of " + film_size + ", " +
         std::to_string(summary.patients) + " patients, " + std::to_string(summary.boxes) +
         " masses in " + std::to_string(summary.images_with_boxes) + " films";
}

std::string use_mias_data(const DemoOptions& o, Json& config, const Say& say) {
  config["data"]["dataset"] = "mias";
  config["data"]["root"] = o.root;
  config["data"]["masses_only"] = true;
  say("1/5 reading mini-MIAS from " + o.root);
  return "mini-MIAS at " + o.root + ", films with masses (as the paper)";
}

// Splits the data by patient into five parts (WORK_DIR/split.json) and sets permutation 0.
DataParts split_demo_data(const DemoOptions& o, Json& config, const std::string& data_text,
                          const Say& say) {
  const data::Dataset dataset = read_dataset_from_config(config);
  if (usable_samples(dataset.samples).empty())
    throw Error("the dataset is empty: " + data_text + " gave no usable images");
  fs::create_directories(o.work_dir);
  const std::string split_path = (fs::path(o.work_dir) / "split.json").string();
  const data::Split split =
      data::make_split(dataset.samples, static_cast<uint64_t>(o.seed), dataset.root);
  data::write_split(split_path, split);
  config["data"]["split"] = "cv";
  config["data"]["split_file"] = split_path;
  config["data"]["permutation"] = 0;
  config["data"]["split_seed"] = o.seed;
  DataParts parts = split_dataset(config, dataset);
  if (parts.train.empty() || parts.val.empty() || parts.test.empty())
    throw Error("the dataset is too small for five parts by patient: " + data_text);
  say("    split by patient: " + std::to_string(parts.train.size()) + " training, " +
      std::to_string(parts.val.size()) + " validation, " + std::to_string(parts.test.size()) +
      " test films");
  return parts;
}

// COCO results of the test films and an overlay picture of each, in `pred_dir`.
void write_test_predictions(const fs::path& pred_dir, const SetEvaluation& test, double thr) {
  fs::create_directories(pred_dir / "overlays");
  Json dets = Json::array();
  for (size_t i = 0; i < test.samples.size(); ++i) {
    for (auto& d : coco_results(test.samples[i].image_id, test.detections[i]))
      dets.push_back(std::move(d));
    data::Sample sample = test.samples[i];
    data::load_sample_image(sample);
    write_overlay((pred_dir / "overlays" / (sample.image_id + ".png")).string(), sample.image,
                  test.detections[i], thr);
  }
  write_file_atomic((pred_dir / "test_dets.json").string(), dets.dump(1) + "\n");
}

// What the demo ran, for its report.
struct DemoRun {
  DemoRun(const DemoOptions& o, const Json& c) : options(o), config(c) {}
  const DemoOptions& options;
  const Json& config;
  std::string data_text;
  DataParts parts;
  FoldResult fold;
  SetEvaluation test;
  std::string train_time;
  Clock::time_point start;
};

void add_demo_facts(Report& report, const DemoRun& run) {
  const Json& config = run.config;
  const FoldResult& fold = run.fold;
  const std::string split_path = (fs::path(run.options.work_dir) / "split.json").string();
  report.facts.push_back({"data", run.data_text});
  report.facts.push_back({"split", "five parts by patient (" + split_path + "), permutation 0: " +
                                       std::to_string(run.parts.train.size()) + " training, " +
                                       std::to_string(run.parts.val.size()) + " validation, " +
                                       std::to_string(run.parts.test.size()) + " test films"});
  report.facts.push_back(
      {"model", "ResNet-" + config_at(config, "model.backbone.depth").dump() + " + " +
                    config_at(config, "model.neck.type").get<std::string>() +
                    " neck, from scratch, input " + config_at(config, "input.scale").dump()});
  report.facts.push_back({"training", std::to_string(fold.train.epochs_done) + " epochs, " +
                                          std::to_string(fold.train.iters_done) + " iterations, " +
                                          run.train_time + " (with evaluation)"});
  report.facts.push_back({"checkpoint", fold.checkpoint + " (best " + fold.train.best_metric +
                                            " on validation at epoch " +
                                            std::to_string(fold.train.best_epoch) +
                                            "), evaluated as eval.variant " +
                                            config_at(config, "eval").value("variant", "single")});
  report.facts.push_back(
      {"operating threshold",
       std::isfinite(fold.score_thr)
           ? std::to_string(fold.score_thr) + " (on validation: " +
                 threshold_choice_text(eval_options_from_config(config_at(config, "eval"))) + ")"
           : std::string("none: no threshold reached the FPPI cap")});
}

std::string write_demo_report(const DemoRun& run) {
  const fs::path dir(run.options.work_dir);
  const fs::path pred_dir = dir / "predictions";
  Report report;
  report.title = "mbmd demo: MBMDNet on " +
                 std::string(run.options.data == "phantom" ? "a synthetic phantom" : "mini-MIAS");
  add_demo_facts(report, run);
  add_checkpoint_evaluation(report, "Best checkpoint",
                            "FROC: sensitivity against false positives per image (log scale).",
                            run.fold.val_metrics, run.fold.test_metrics);
  for (auto& fig : training_figures(read_train_log((dir / "run" / "log.jsonl").string())))
    report.figures.push_back(std::move(fig));
  const EvalOptions& eo = run.test.result.options;
  report.overlays = pick_overlays(run.test.samples, run.test.detections, run.fold.score_thr, eo.hit,
                                  eo.hit_iou, 6);
  report.notes.push_back("Files: " + (dir / "run").string() +
                         " (config.json, log.jsonl, best.ckpt, " +
                         "last.ckpt, val/test metrics, its own report.html), " +
                         (pred_dir / "test_dets.json").string() + " (COCO results), " +
                         (pred_dir / "overlays").string() + " (one PNG per test film).");
  report.notes.push_back("Total time " + minutes(run.start) + ".");
  const std::string report_path = (dir / "report.html").string();
  write_report(report_path, report);
  return report_path;
}

}  // namespace

DemoResult run_demo(const DemoOptions& options) {
  check_demo_options(options);
  Json config = demo_config(options);
  const int threads = configure_threads(config["runtime"]["threads"].get<int>());
  DemoRun run(options, config);
  run.start = Clock::now();
  const Say say = [&](const std::string& text) {
    if (options.progress)
      std::cerr << "[" << minutes(run.start) << "] " << text << "\n" << std::flush;
  };

  run.data_text = options.data == "phantom" ? make_phantom_data(options, config, say)
                                            : use_mias_data(options, config, say);
  run.parts = split_demo_data(options, config, run.data_text, say);

  say("2/5 training ResNet-" + config_at(config, "model.backbone.depth").dump() + " + " +
      config_at(config, "model.neck.type").get<std::string>() + " for " +
      config_at(config, "train.epochs").dump() + " epochs at input " +
      config_at(config, "input.scale").dump() + " on " + std::to_string(threads) + " threads");
  FoldOptions fold_options;
  fold_options.progress = options.progress;
  fold_options.extra_iou_thrs = {0.2, 0.5, 0.75};
  const auto train_start = Clock::now();
  run.fold =
      run_fold(config, (fs::path(options.work_dir) / "run").string(), fold_options, &run.test);
  run.train_time = minutes(train_start);
  say("3/5 evaluated " + run.fold.checkpoint + " (best " + run.fold.train.best_metric +
      " at epoch " + std::to_string(run.fold.train.best_epoch) + ")");

  const fs::path pred_dir = fs::path(options.work_dir) / "predictions";
  const double thr = std::isfinite(run.fold.score_thr) ? run.fold.score_thr : 0.5;
  write_test_predictions(pred_dir, run.test, thr);
  say("4/5 predicted " + std::to_string(run.test.samples.size()) + " test films: " +
      (pred_dir / "test_dets.json").string() + ", overlays in " + (pred_dir / "overlays").string());

  DemoResult result;
  result.report = write_demo_report(run);
  say("5/5 report: " + result.report);
  result.test = run.test.result;
  return result;
}

}  // namespace mbmd::engine
