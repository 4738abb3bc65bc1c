// `mbmd demo`: options only; the demo itself is mbmd::engine::run_demo (workflows/demo.h).
#include <iostream>

#include "arg_parser.h"
#include "command.h"
#include "mbmd/core/error.h"
#include "mbmd/workflows/demo.h"

namespace mbmd::cli {
namespace {

constexpr const char* kSummary =
    "Trains and evaluates a quick MBMDNet (ResNet-18, multi-head FPN) end to end, in about\n"
    "10 minutes on 2 cores: makes a synthetic mammography set (or reads mini-MIAS), splits it\n"
    "by patient into five parts, trains on three, picks the checkpoint and operating point on\n"
    "the fourth, evaluates and predicts the fifth, and writes DIR/report.html.\n\n"
    "example: mbmd demo --work-dir build/demo-run\n"
    "         mbmd demo --data mias --root ../shared/data/mini-mias --work-dir demo-mias";

}  // namespace

int demo_command(const Args& args) {
  engine::DemoOptions options;
  ArgParser parser("demo", kSummary);
  parser
      .option("work-dir", "folder for the data, the run, the predictions and the report",
              "demo-run")
      .to(&options.work_dir)
      .option("data", "phantom (synthetic, made here) or mias (mini-MIAS, films with masses)",
              "phantom")
      .to(&options.data)
      .option("root", "the mini-MIAS folder (Info.txt and mdbNNN files) for --data mias")
      .to(&options.root)
      .option("config", "config file or name under configs/ (default demo, or demo_quick)")
      .to(&options.config)
      .flag("quick", "a tiny run in seconds: small films, one epoch (checks the pipeline)")
      .to(&options.quick)
      .option("patients", "phantom patients, two films each (default 40, 10 with --quick)")
      .to(&options.patients)
      .option("film-size", "phantom film size WIDTHxHEIGHT (default 320x416, 96x128 --quick)")
      .to(&options.film_size)
      .option("seed", "phantom and split seed", "0")
      .to(&options.seed)
      .config_overrides(&options.overrides, &options.threads)
      .flag("quiet", "no progress on stderr");
  if (!parser.parse(args)) return 0;
  if (!parser.positionals().empty())
    throw Error("demo takes no positional arguments, got '" + parser.positionals()[0] + "'");
  options.progress = !parser.has("quiet");
  const engine::DemoResult result = engine::run_demo(options);
  std::cout << engine::format_table(result.test) << "\nreport: " << result.report << "\n";
  return 0;
}

}  // namespace mbmd::cli
