// `mbmd train`: trains a detector from a config into a work dir (docs/training.md).
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "arg_parser.h"
#include "command.h"
#include "mbmd/core/config.h"
#include "mbmd/core/error.h"
#include "mbmd/core/threads.h"
#include "mbmd/engine/checkpointing.h"
#include "mbmd/engine/distributed_launch.h"
#include "mbmd/engine/report.h"
#include "mbmd/engine/trainer.h"
#include "mbmd/io/checkpoint.h"

namespace mbmd::cli {
namespace {

// The command's arguments without --nproc and its value: what every local rank runs.
Args without_nproc(const Args& args) {
  Args kept{"train"};
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--nproc") {
      ++i;  // and its value
      continue;
    }
    if (arg.rfind("--nproc=", 0) == 0) continue;
    kept.push_back(arg);
    // An option's value (e.g. `--set x=--nproc`) is copied as it is.
    const bool takes_value = arg.rfind("--", 0) == 0 && arg.find('=') == std::string::npos &&
                             arg != "--resume" && arg != "--quiet" && arg != "--help";
    if (takes_value && i + 1 < args.size()) kept.push_back(args[++i]);
  }
  return kept;
}

}  // namespace

int train_command(const Args& args) {
  ArgParser parser(
      "train",
      "Trains a detector: SGD with momentum and weight decay, warm-up, step or cosine schedule,\n"
      "validation every train.val_interval epochs. DIR gets config.json, log.jsonl (one JSON\n"
      "object per logged step and per validation), last.ckpt after every epoch and best.ckpt\n"
      "by train.best_metric. --resume continues from DIR/last.ckpt exactly where it stopped\n"
      "(same optimiser state, schedule and data order); without --config it reuses the run's.\n"
      "--nproc N trains data-parallel on N local processes (train.batch_size per process); for\n"
      "several machines start the ranks with torchrun's variables (docs/distributed.md).\n\n"
      "example: mbmd train --config mbmdnet_r50_mhfpn --work-dir runs/mhfpn \\\n"
      "           --set data.dataset=mias --set data.root=/data/mini-mias --set train.epochs=24");
  parser.option("config", "config file or name under configs/")
      .option("work-dir", "folder for checkpoints, logs and the resolved config")
      .flag("resume", "continue the run in --work-dir from its last.ckpt")
      .option("set", "override a config key: key=value", "", true)
      .option("threads", "intra-op threads (0: all cores; default runtime.threads)")
      .option("stop-after-epoch",
              "stop once this many epochs are done (continue later with --resume)", "0")
      .flag("quiet", "no progress line on stderr")
      .option("nproc", "data-parallel processes on this machine (each with train.batch_size)", "1")
      .option("dist-timeout",
              "seconds a rank waits for the others (rendezvous, gradients, the per-epoch "
              "barrier) before it stops",
              "300");
  if (!parser.parse(args)) return 0;
  if (!parser.positionals().empty())
    throw Error("train takes no positional arguments, got '" + parser.positionals()[0] + "'");
  if (!parser.has("work-dir")) throw Error("train needs --work-dir DIR");
  const std::string work_dir = parser.get("work-dir");
  const bool resume = parser.has("resume");
  const int nproc = parser.get_int("nproc");
  if (nproc < 1) throw Error("--nproc must be >= 1, got " + std::to_string(nproc));
  const double dist_timeout = parser.get_double("dist-timeout");
  if (!(dist_timeout > 0))
    throw Error("--dist-timeout must be > 0 seconds, got " + parser.get("dist-timeout"));
  if (nproc > 1 && std::getenv("RANK") == nullptr) {
    // The launcher: N ranks of this same command on this machine; the ranks do the checks.
    engine::LaunchOptions launch;
    launch.args = without_nproc(args);
    launch.nproc = nproc;
    const auto r = engine::launch_local_workers(launch);
    if (r.exit_code != 0) std::cerr << r.message << "\n";
    return r.exit_code;
  }

  Json config;
  if (parser.has("config")) {
    config = load_config(parser.get("config"));
  } else if (resume) {
    const std::string last = (std::filesystem::path(work_dir) / "last.ckpt").string();
    if (!std::filesystem::exists(last))
      throw Error("cannot resume: " + last + " does not exist (start the run without --resume)");
    config = engine::config_from_checkpoint(io::load_checkpoint(last), last);
  } else {
    throw Error("train needs --config CFG (a file or a name under configs/)");
  }
  apply_overrides(config, parser.get_all("set"));
  if (parser.has("threads")) config["runtime"]["threads"] = parser.get_int("threads");
  const int threads = configure_threads(config["runtime"]["threads"].get<int>());

  engine::TrainOptions options;
  options.work_dir = work_dir;
  options.resume = resume;
  options.stop_after_epoch = parser.get_int("stop-after-epoch");
  options.progress = !parser.has("quiet");
  options.dist_timeout_s = dist_timeout;
  const char* rank = std::getenv("RANK");
  const bool main_rank = rank == nullptr || std::string(rank) == "0";
  if (options.progress && main_rank) std::cerr << "mbmd train: " << threads << " threads\n";
  const auto result = engine::train(config, options);
  if (result.rank != 0) return 0;  // rank 0 reports for the run
  engine::write_train_report(work_dir);
  std::cout << "epochs done: " << result.epochs_done << ", iterations: " << result.iters_done
            << "\nlast checkpoint: " << result.last_checkpoint << "\n";
  if (!result.best_checkpoint.empty())
    std::cout << "best checkpoint: " << result.best_checkpoint << " (" << result.best_metric << " "
              << result.best_value << " at epoch " << result.best_epoch << ")\n";
  return 0;
}

}  // namespace mbmd::cli
