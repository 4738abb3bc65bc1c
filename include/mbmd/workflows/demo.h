// `mbmd demo`: the README's first job. Makes the synthetic phantom (or reads mini-MIAS), trains a
// quick config on permutation 0 of the paper's split (three parts train, one validation, one
// test), evaluates the test part at the threshold chosen on validation, predicts it with overlay
// pictures and writes report.html (docs/commands.md).
#pragma once

#include <string>
#include <vector>

#include "mbmd/eval/evaluate.h"

namespace mbmd::engine {

struct DemoOptions {
  std::string work_dir = "demo-run";
  std::string data = "phantom";        // "phantom" (made in WORK_DIR/data) or "mias"
  std::string root;                    // the mini-MIAS folder, for data "mias"
  std::string config;                  // config file or name; empty: demo (demo_quick with quick)
  std::vector<std::string> overrides;  // "key=value" config assignments
  bool quick = false;                  // tiny films and one epoch: checks the pipeline
  int patients = -1;                   // phantom patients; < 0: 40 (10 with quick)
  std::string film_size;               // phantom WIDTHxHEIGHT; empty: 320x416 (96x128 quick)
  int seed = 0;                        // phantom and split seed
  int threads = -1;                    // intra-op threads; < 0: runtime.threads of the config
  bool progress = true;                // the steps and the trainer's progress on stderr
};

struct DemoResult {
  EvalResult test;  // the test part at the operating threshold chosen on validation
  std::string report;
};

// Checks the options and the work dir (which must not hold a demo run) before writing anything;
// bad options are mbmd::Error naming the option.
DemoResult run_demo(const DemoOptions& options);

}  // namespace mbmd::engine
