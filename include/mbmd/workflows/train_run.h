// `mbmd train`: one training run from a config into a work dir, alone, as one rank of a
// data-parallel run started elsewhere (torchrun's variables), or as the launcher of N local ranks
// (docs/training.md, docs/distributed.md).
#pragma once

#include <string>
#include <vector>

#include "mbmd/train/trainer.h"

namespace mbmd::engine {

struct TrainRunOptions {
  std::string config;                  // file or name; empty: the run's own (with resume)
  std::vector<std::string> overrides;  // "key=value", applied to the config
  int threads = -1;                    // intra-op threads; < 0: runtime.threads of the config
  TrainOptions train;                  // work dir, resume, stop, progress, distributed timeout
  int nproc = 1;                       // local ranks to launch (without RANK in the environment)
  std::vector<std::string> rank_args;  // with nproc > 1: the program arguments each rank runs
};

struct TrainRunResult {
  int exit_code = 0;      // the launcher's: 0 when every rank succeeded
  std::string message;    // what went wrong in a launched run, for the user
  bool launched = false;  // this process launched local ranks and trained nothing itself
  TrainResult train;      // this process's run (rank 0 also wrote report.html)
};

// Checks the options (a missing work dir or config, bad nproc or timeout) before anything runs.
TrainRunResult run_training(const TrainRunOptions& options);

}  // namespace mbmd::engine
