// `mbmd demo`: options only; the demo itself is mbmd::engine::run_demo (workflows/demo.h).
#include <iostream>

#include "arg_parser.h"
#include "command.h"
#include "mbmd/core/error.h"
#include "mbmd/workflows/demo.h"

namespace mbmd::cli {

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
  engine::DemoOptions options;
  options.work_dir = parser.get("work-dir");
  options.data = parser.get("data");
  if (parser.has("root")) options.root = parser.get("root");
  if (parser.has("config")) options.config = parser.get("config");
  options.overrides = parser.get_all("set");
  options.quick = parser.has("quick");
  if (parser.has("patients")) options.patients = parser.get_int("patients");
  if (parser.has("film-size")) options.film_size = parser.get("film-size");
  options.seed = parser.get_int("seed");
  if (parser.has("threads")) options.threads = parser.get_int("threads");
  options.progress = !parser.has("quiet");
  const engine::DemoResult result = engine::run_demo(options);
  std::cout << engine::format_table(result.test) << "\nreport: " << result.report << "\n";
  return 0;
}

}  // namespace mbmd::cli
