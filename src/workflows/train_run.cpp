#include "mbmd/workflows/train_run.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "mbmd/core/config.h"
#include "mbmd/core/error.h"
#include "mbmd/core/threads.h"
#include "mbmd/dist/launch.h"
#include "mbmd/inference/checkpoint_config.h"
#include "mbmd/io/checkpoint.h"
#include "mbmd/report/report.h"

namespace mbmd::engine {
namespace {

void check_train_run_options(const TrainRunOptions& o) {
  if (o.train.work_dir.empty()) throw Error("train needs --work-dir DIR");
  if (o.nproc < 1) throw Error("--nproc must be >= 1, got " + std::to_string(o.nproc));
  if (!(o.train.dist_timeout_s > 0))
    throw Error("--dist-timeout must be > 0 seconds, got " +
                std::to_string(o.train.dist_timeout_s));
}

// The named config, or a resumed run's own from its last.ckpt; then the overrides.
Json training_config(const TrainRunOptions& o) {
  Json config;
  if (!o.config.empty()) {
    config = load_config(o.config);
  } else if (o.train.resume) {
    const std::string last = (std::filesystem::path(o.train.work_dir) / "last.ckpt").string();
    if (!std::filesystem::exists(last))
      throw Error("cannot resume: " + last + " does not exist (start the run without --resume)");
    config = config_from_checkpoint(io::load_checkpoint(last), last);
  } else {
    throw Error("train needs --config CFG (a file or a name under configs/)");
  }
  apply_overrides(config, o.overrides);
  if (o.threads >= 0) config["runtime"]["threads"] = o.threads;
  return config;
}

}  // namespace

TrainRunResult run_training(const TrainRunOptions& options) {
  check_train_run_options(options);
  TrainRunResult out;
  if (options.nproc > 1 && std::getenv("RANK") == nullptr) {
    // The launcher: N ranks of this same command on this machine; the ranks do the checks.
    LaunchOptions launch;
    launch.args = options.rank_args;
    launch.nproc = options.nproc;
    const LaunchResult r = launch_local_workers(launch);
    out.launched = true;
    out.exit_code = r.exit_code;
    out.message = r.message;
    return out;
  }
  const Json config = training_config(options);
  const int threads = configure_threads(config["runtime"]["threads"].get<int>());
  const char* rank = std::getenv("RANK");
  const bool main_rank = rank == nullptr || std::string(rank) == "0";
  if (options.train.progress && main_rank) std::cerr << "mbmd train: " << threads << " threads\n";
  out.train = train(config, options.train);
  if (out.train.rank == 0) write_train_report(options.train.work_dir);
  return out;
}

}  // namespace mbmd::engine
