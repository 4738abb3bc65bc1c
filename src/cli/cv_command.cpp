// `mbmd cv`: the paper's cross-validation (docs/design.md, "Protocol") through
// mbmd::engine::run_cv; docs/commands.md shows the files it writes.
#include <iostream>
#include <sstream>

#include "arg_parser.h"
#include "command.h"
#include "mbmd/core/config.h"
#include "mbmd/core/error.h"
#include "mbmd/core/threads.h"
#include "mbmd/workflows/cv.h"

namespace mbmd::cli {

int cv_command(const Args& args) {
  ArgParser parser(
      "cv",
      "Cross-validation as in the paper: the images are dealt by patient into five parts\n"
      "(DIR/split.json, or --split-file); permutation r trains on three parts into DIR/fold<r>/,\n"
      "keeps the best checkpoint by the validation metric (train.best_metric), picks the\n"
      "operating threshold on the validation part and evaluates the test part there.\n"
      "DIR gets summary.md, summary.csv, summary.json (mean (std) over the folds) and\n"
      "report.html; each fold its own run files, test metrics and report.html.\n\n"
      "example: mbmd cv --config mias/mbmdnet_r50_mhfpn_cpu --work-dir runs/cv_mhfpn \\\n"
      "           --set data.root=../shared/data/mini-mias");
  parser.option("config", "config file or name under configs/")
      .option("work-dir", "folder for the split, the fold runs and the summary")
      .option("folds", "permutations to run: 0..N-1 of the five parts", "5")
      .option("split-file", "read the five parts from this split file instead of making them")
      .option("metrics", "summary metrics, comma separated (apNN, sens@F, tpr, fppi, cpm, ...)",
              "ap20,ap50,ap75,ap50_small,ap50_medium,ap50_large,tpr,fppi,cpm")
      .option("overlays", "pictures of hits and misses in each fold's report", "6")
      .option("set", "override a config key: key=value", "", true)
      .option("threads", "intra-op threads (0: all cores; default runtime.threads)")
      .flag("resume", "keep finished folds and continue an unfinished one")
      .flag("quiet", "no progress on stderr");
  if (!parser.parse(args)) return 0;
  if (!parser.positionals().empty())
    throw Error("cv takes no positional arguments, got '" + parser.positionals()[0] + "'");
  if (!parser.has("config")) throw Error("cv needs --config CFG (a file or a name under configs/)");
  if (!parser.has("work-dir")) throw Error("cv needs --work-dir DIR");

  Json config = load_config(parser.get("config"));
  apply_overrides(config, parser.get_all("set"));
  if (parser.has("threads")) config["runtime"]["threads"] = parser.get_int("threads");
  configure_threads(config["runtime"]["threads"].get<int>());

  engine::CvOptions options;
  options.work_dir = parser.get("work-dir");
  options.folds = parser.get_int("folds");
  if (parser.has("split-file")) options.split_file = parser.get("split-file");
  std::stringstream metrics(parser.get("metrics"));
  for (std::string name; std::getline(metrics, name, ',');)
    if (!name.empty()) options.metrics.push_back(name);
  if (options.metrics.empty()) throw Error("option --metrics: no metric given");
  options.overlays = parser.get_int("overlays");
  options.resume = parser.has("resume");
  options.progress = !parser.has("quiet");

  const engine::CvResult result = engine::run_cv(config, options);
  std::cout << "cross-validation, " << result.folds.size() << " folds (test parts, mean (std)):\n\n"
            << engine::summary_markdown(result.summary) << "\nsummary: " << result.summary_md
            << ", " << result.summary_csv << ", " << result.summary_json
            << "\nreport: " << result.report << "\n";
  return 0;
}

}  // namespace mbmd::cli
