// `mbmd cv`: the paper's cross-validation (docs/design.md, "Protocol") through
// mbmd::engine::run_cv; docs/commands.md shows the files it writes.
#include <iostream>

#include "arg_parser.h"
#include "command.h"
#include "mbmd/core/config.h"
#include "mbmd/core/error.h"
#include "mbmd/core/strings.h"
#include "mbmd/core/threads.h"
#include "mbmd/workflows/cv.h"

namespace mbmd::cli {

namespace {

constexpr const char* kSummary =
    "Cross-validation as in the paper: the images are dealt by patient into five parts\n"
    "(DIR/split.json, or --split-file); permutation r trains on three parts into DIR/fold<r>/,\n"
    "keeps the best checkpoint by the validation metric (train.best_metric), picks the\n"
    "operating threshold on the validation part and evaluates the test part there.\n"
    "DIR gets summary.md, summary.csv, summary.json (mean (std) over the folds) and\n"
    "report.html; each fold its own run files, test metrics and report.html.\n"
    "--repeats K runs the whole protocol K times with data.split_seed + r, repeat r in\n"
    "DIR/repeat_r/; DIR's summary then gives each metric's mean (sd), min .. max over the\n"
    "repeats and every fold of every repeat pooled.\n\n"
    "example: mbmd cv --config mias/mbmdnet_r50_mhfpn_cpu --work-dir runs/cv_mhfpn \\\n"
    "           --set data.root=../shared/data/mini-mias";

int print_repeated(const engine::RepeatedCvResult& result) {
  const size_t folds = result.repeats.empty() ? 0 : result.repeats.front().folds.size();
  std::cout << "cross-validation, " << result.repeats.size() << " repeats of " << folds
            << " folds (test parts: each repeat's mean over its folds, then over the repeats):\n\n"
            << engine::repeats_markdown(result.summary) << "\nsummary: " << result.summary_md
            << ", " << result.summary_csv << ", " << result.summary_json
            << "\nreport: " << result.report << "\n";
  for (size_t r = 0; r < result.repeats.size(); ++r)
    std::cout << "repeat " << r << " (data.split_seed " << result.split_seeds[r]
              << "): " << result.repeats[r].summary_md << "\n";
  return 0;
}

}  // namespace

int cv_command(const Args& args) {
  engine::CvOptions options;
  std::string config_name, metrics;
  std::vector<std::string> overrides;
  int threads = -1, repeats = 1;
  ArgParser parser("cv", kSummary);
  parser.option("config", "config file or name under configs/")
      .to(&config_name)
      .option("work-dir", "folder for the split, the fold runs and the summary")
      .to(&options.work_dir)
      .option("folds", "permutations to run: 0..N-1 of the five parts", "5")
      .to(&options.folds)
      .option("split-file", "read the five parts from this split file instead of making them")
      .to(&options.split_file)
      .option("metrics", "summary metrics, comma separated (apNN, sens@F, tpr, fppi, cpm, ...)",
              "ap20,ap50,ap75,ap50_small,ap50_medium,ap50_large,tpr,fppi,cpm")
      .to(&metrics)
      .option("overlays", "pictures of hits and misses in each fold's report", "6")
      .to(&options.overlays)
      .option("repeats",
              "run the whole cross-validation this many times, with data.split_seed + r, in "
              "DIR/repeat_r/ (1: once, in DIR)",
              "1")
      .to(&repeats)
      .config_overrides(&overrides, &threads)
      .flag("resume", "keep finished folds and continue an unfinished one")
      .to(&options.resume)
      .flag("reevaluate",
            "with --resume: evaluate the finished folds again from their checkpoints, with the "
            "eval keys given now (e.g. --set eval.variant=flip+snapshot), without training")
      .to(&options.reevaluate)
      .flag("quiet", "no progress on stderr");
  if (!parser.parse(args)) return 0;
  if (!parser.positionals().empty())
    throw Error("cv takes no positional arguments, got '" + parser.positionals()[0] + "'");
  if (!parser.has("config")) throw Error("cv needs --config CFG (a file or a name under configs/)");
  if (!parser.has("work-dir")) throw Error("cv needs --work-dir DIR");

  Json config = load_config(config_name);
  apply_overrides(config, overrides);
  if (threads >= 0) config["runtime"]["threads"] = threads;
  configure_threads(config["runtime"]["threads"].get<int>());
  for (const auto& name : split(metrics, ','))
    if (!name.empty()) options.metrics.push_back(name);
  if (options.metrics.empty()) throw Error("option --metrics: no metric given");
  options.progress = !parser.has("quiet");

  if (repeats < 1)
    throw Error("option --repeats: must be at least 1, got " + std::to_string(repeats));
  if (repeats > 1) return print_repeated(engine::run_repeated_cv(config, options, repeats));
  const engine::CvResult result = engine::run_cv(config, options);
  std::cout << "cross-validation, " << result.folds.size() << " folds (test parts, mean (std)):\n\n"
            << engine::summary_markdown(result.summary) << "\nsummary: " << result.summary_md
            << ", " << result.summary_csv << ", " << result.summary_json
            << "\nreport: " << result.report << "\n";
  if (!result.intervals.empty())
    std::cout
        << "\npooled test parts (each fold's model on its own part; TPR and FPPI at each fold's "
           "threshold from its validation part):"
        << result.intervals;
  if (!result.variants.empty())
    std::cout << "\ntest-time variants of each fold's best.ckpt against the evaluated models "
                 "(pooled test parts, paired bootstrap; TPR and FPPI at the best TPR under the "
                 "FPPI cap on those parts, not operating points):\n\n"
              << result.variants;
  return 0;
}

}  // namespace mbmd::cli
