// `mbmd demo`: the README's first job. Makes the synthetic phantom (or reads mini-MIAS), trains a
// quick config on permutation 0 of the paper's split (three parts train, one validation, one
// test), evaluates the test part at the threshold chosen on validation, predicts it with overlay
// pictures and writes report.html (docs/commands.md).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "arg_parser.h"
#include "command.h"
#include "mbmd/core/config.h"
#include "mbmd/core/error.h"
#include "mbmd/core/threads.h"
#include "mbmd/data/image_io.h"
#include "mbmd/data/split.h"
#include "mbmd/engine/cv.h"
#include "mbmd/engine/data_pipeline.h"
#include "mbmd/engine/overlay.h"
#include "mbmd/engine/phantom.h"
#include "mbmd/engine/predictor.h"
#include "mbmd/engine/report.h"

namespace mbmd::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

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

}  // namespace

int demo_command(const Args& args) {
  ArgParser parser(
      "demo",
      "Trains and evaluates a quick MBMDNet (ResNet-18, multi-head FPN) end to end, in about\n"
      "10 minutes on 2 cores: makes a synthetic mammography set (or reads mini-MIAS), splits it\n"
      "by patient into five parts, trains on three, picks the checkpoint and operating point on\n"
      "the fourth, evaluates and predicts the fifth, and writes DIR/report.html.\n\n"
      "example: mbmd demo --work-dir demo-run\n"
      "         mbmd demo --data mias --root ../shared/data/mini-mias --work-dir demo-mias");
  parser
      .option("work-dir", "folder for the data, the run, the predictions and the report",
              "demo-run")
      .option("data", "phantom (synthetic, made here) or mias (mini-MIAS, films with masses)",
              "phantom")
      .option("root", "the mini-MIAS folder (Info.txt and mdbNNN files) for --data mias")
      .option("config", "config file or name under configs/ (default demo, or demo_quick)")
      .flag("quick", "a tiny run in seconds: small films, one epoch (checks the pipeline)")
      .option("patients", "phantom patients, two films each (default 40, 10 with --quick)")
      .option("film-size", "phantom film size WIDTHxHEIGHT (default 320x416, 96x128 --quick)")
      .option("seed", "phantom and split seed", "0")
      .option("set", "override a config key: key=value", "", true)
      .option("threads", "intra-op threads (0: all cores; default runtime.threads)")
      .flag("quiet", "no progress on stderr");
  if (!parser.parse(args)) return 0;
  if (!parser.positionals().empty())
    throw Error("demo takes no positional arguments, got '" + parser.positionals()[0] + "'");
  const auto start = Clock::now();
  const bool quick = parser.has("quick");
  const bool progress = !parser.has("quiet");
  const std::string data_kind = parser.get("data");
  if (data_kind != "phantom" && data_kind != "mias")
    throw Error("option --data: expected phantom or mias, got '" + data_kind + "'");
  if (data_kind == "mias" && !parser.has("root"))
    throw Error("--data mias needs --root DIR, the mini-MIAS folder");
  if (data_kind == "phantom" && parser.has("root"))
    throw Error("--root is for --data mias; the phantom is made in WORK_DIR/data");

  const fs::path dir(parser.get("work-dir"));
  if (fs::exists(dir) && !fs::is_directory(dir))
    throw Error("work dir " + dir.string() + " is a file, not a folder");
  if (fs::exists(dir / "run" / "last.ckpt") || fs::exists(dir / "report.html"))
    throw Error("work dir " + dir.string() +
                " already holds a demo run: choose another --work-dir (nothing was changed)");

  Json config = load_config(parser.has("config") ? parser.get("config")
                                                 : std::string(quick ? "demo_quick" : "demo"));
  apply_overrides(config, parser.get_all("set"));
  if (parser.has("threads")) config["runtime"]["threads"] = parser.get_int("threads");
  const int threads = configure_threads(config["runtime"]["threads"].get<int>());
  const int seed = parser.get_int("seed");
  if (seed < 0) throw Error("option --seed: must not be negative");
  auto say = [&](const std::string& text) {
    if (progress) std::cerr << "[" << minutes(start) << "] " << text << "\n" << std::flush;
  };

  // ---- 1. Data. ----
  std::string data_text;
  if (data_kind == "phantom") {
    engine::PhantomOptions phantom;
    phantom.seed = static_cast<uint64_t>(seed);
    phantom.patients = parser.has("patients") ? parser.get_int("patients") : (quick ? 10 : 40);
    const auto size =
        parse_size(parser.has("film-size") ? parser.get("film-size")
                                           : std::string(quick ? "96x128" : "320x416"));
    phantom.width = size.first;
    phantom.height = size.second;
    engine::check_phantom_options(phantom);
    say("1/5 making the phantom: " + std::to_string(phantom.patients) + " patients, " +
        std::to_string(2 * phantom.patients) + " films of " + std::to_string(phantom.width) + "x" +
        std::to_string(phantom.height) + " in " + (dir / "data").string());
    data::Dataset made;
    const std::string json = engine::write_phantom(phantom, (dir / "data").string(), &made);
    const auto summary = data::summarize(made);
    data_text = "synthetic phantom (seed " + std::to_string(seed) +
                "): " + std::to_string(summary.images) + " films of " +
                std::to_string(phantom.width) + "x" + std::to_string(phantom.height) + ", " +
                std::to_string(summary.patients) + " patients, " + std::to_string(summary.boxes) +
                " masses in " + std::to_string(summary.images_with_boxes) + " films";
    config["data"]["dataset"] = "coco";
    config["data"]["ann_file"] = json;
    config["data"]["root"] = "";
  } else {
    config["data"]["dataset"] = "mias";
    config["data"]["root"] = parser.get("root");
    config["data"]["masses_only"] = true;
    data_text = "mini-MIAS at " + parser.get("root") + ", films with masses (as the paper)";
    say("1/5 reading mini-MIAS from " + parser.get("root"));
  }
  const data::Dataset dataset = engine::read_dataset_from_config(config);
  if (engine::usable_samples(dataset.samples).empty())
    throw Error("the dataset is empty: " + data_text + " gave no usable images");
  fs::create_directories(dir);
  const std::string split_path = (dir / "split.json").string();
  const data::Split split =
      data::make_split(dataset.samples, static_cast<uint64_t>(seed), dataset.root);
  data::write_split(split_path, split);
  config["data"]["split"] = "cv";
  config["data"]["split_file"] = split_path;
  config["data"]["permutation"] = 0;
  config["data"]["split_seed"] = seed;
  const engine::DataParts parts = engine::split_dataset(config, dataset);
  if (parts.train.empty() || parts.val.empty() || parts.test.empty())
    throw Error("the dataset is too small for five parts by patient: " + data_text);
  say("    split by patient: " + std::to_string(parts.train.size()) + " training, " +
      std::to_string(parts.val.size()) + " validation, " + std::to_string(parts.test.size()) +
      " test films");

  // ---- 2 and 3. Training, validation and the test evaluation. ----
  say("2/5 training ResNet-" + config_at(config, "model.backbone.depth").dump() + " + " +
      config_at(config, "model.neck.type").get<std::string>() + " for " +
      config_at(config, "train.epochs").dump() + " epochs at input " +
      config_at(config, "input.scale").dump() + " on " + std::to_string(threads) + " threads");
  engine::FoldOptions fold_options;
  fold_options.progress = progress;
  fold_options.extra_iou_thrs = {0.2, 0.5, 0.75};
  engine::SetEvaluation test;
  const auto train_start = Clock::now();
  const engine::FoldResult fold =
      engine::run_fold(config, (dir / "run").string(), fold_options, &test);
  const std::string train_time = minutes(train_start);
  say("3/5 evaluated " + fold.checkpoint + " (best " + fold.train.best_metric + " at epoch " +
      std::to_string(fold.train.best_epoch) + ")");

  // ---- 4. Predictions with overlays. ----
  const fs::path pred_dir = dir / "predictions";
  fs::create_directories(pred_dir / "overlays");
  const double thr = std::isfinite(fold.score_thr) ? fold.score_thr : 0.5;
  Json dets = Json::array();
  for (size_t i = 0; i < test.samples.size(); ++i) {
    for (auto& d : engine::coco_results(test.samples[i].image_id, test.detections[i]))
      dets.push_back(std::move(d));
    data::Sample sample = test.samples[i];
    data::load_sample_image(sample);
    engine::write_overlay((pred_dir / "overlays" / (sample.image_id + ".png")).string(),
                          sample.image, test.detections[i], thr);
  }
  data::write_file_atomic((pred_dir / "test_dets.json").string(), dets.dump(1) + "\n");
  say("4/5 predicted " + std::to_string(test.samples.size()) + " test films: " +
      (pred_dir / "test_dets.json").string() + ", overlays in " + (pred_dir / "overlays").string());

  // ---- 5. The report. ----
  engine::Report report;
  report.title = "mbmd demo: MBMDNet on " +
                 std::string(data_kind == "phantom" ? "a synthetic phantom" : "mini-MIAS");
  report.facts.push_back({"data", data_text});
  report.facts.push_back({"split", "five parts by patient (" + split_path + "), permutation 0: " +
                                       std::to_string(parts.train.size()) + " training, " +
                                       std::to_string(parts.val.size()) + " validation, " +
                                       std::to_string(parts.test.size()) + " test films"});
  report.facts.push_back(
      {"model", "ResNet-" + config_at(config, "model.backbone.depth").dump() + " + " +
                    config_at(config, "model.neck.type").get<std::string>() +
                    " neck, from scratch, input " + config_at(config, "input.scale").dump()});
  report.facts.push_back({"training", std::to_string(fold.train.epochs_done) + " epochs, " +
                                          std::to_string(fold.train.iters_done) + " iterations, " +
                                          train_time + " (with evaluation)"});
  report.facts.push_back({"checkpoint", fold.checkpoint + " (best " + fold.train.best_metric +
                                            " on validation at epoch " +
                                            std::to_string(fold.train.best_epoch) + ")"});
  report.facts.push_back({"operating threshold",
                          std::isfinite(fold.score_thr)
                              ? std::to_string(fold.score_thr) + " (best TPR at FPPI <= " +
                                    config_at(config, "eval.fppi_cap").dump() + " on validation)"
                              : std::string("none: no threshold reached the FPPI cap")});
  std::vector<std::string> columns;
  std::vector<Json> metrics;
  if (!fold.val_metrics.is_null()) {
    columns.push_back("validation");
    metrics.push_back(fold.val_metrics);
  }
  columns.push_back("test");
  metrics.push_back(fold.test_metrics);
  report.tables.push_back(engine::metrics_table("Best checkpoint", columns, metrics));
  engine::PlotOptions fo;
  fo.title = "FROC";
  fo.x_label = "false positives per image";
  fo.y_label = "sensitivity";
  fo.log_x = true;
  std::vector<engine::PlotSeries> curves;
  for (size_t i = 0; i < metrics.size(); ++i)
    curves.push_back(engine::froc_series(columns[i], metrics[i]));
  report.figures.push_back({"FROC: sensitivity against false positives per image (log scale).",
                            engine::svg_line_plot(curves, fo)});
  for (auto& fig :
       engine::training_figures(engine::read_train_log((dir / "run" / "log.jsonl").string())))
    report.figures.push_back(std::move(fig));
  const engine::EvalOptions& eo = test.result.options;
  report.overlays =
      engine::pick_overlays(test.samples, test.detections, fold.score_thr, eo.hit, eo.hit_iou, 6);
  report.notes.push_back("Files: " + (dir / "run").string() +
                         " (config.json, log.jsonl, best.ckpt, " +
                         "last.ckpt, val/test metrics, its own report.html), " +
                         (pred_dir / "test_dets.json").string() + " (COCO results), " +
                         (pred_dir / "overlays").string() + " (one PNG per test film).");
  report.notes.push_back("Total time " + minutes(start) + ".");
  const std::string report_path = (dir / "report.html").string();
  engine::write_report(report_path, report);
  say("5/5 report: " + report_path);

  std::cout << engine::format_table(test.result) << "\nreport: " << report_path << "\n";
  return 0;
}

}  // namespace mbmd::cli
