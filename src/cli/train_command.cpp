// `mbmd train`: trains a detector from a config into a work dir (docs/training.md).
#include <iostream>

#include "arg_parser.h"
#include "command.h"
#include "mbmd/core/error.h"
#include "mbmd/workflows/train_run.h"

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

constexpr const char* kSummary =
    "Trains a detector: SGD with momentum and weight decay, warm-up, step or cosine schedule,\n"
    "validation every train.val_interval epochs. DIR gets config.json, log.jsonl (one JSON\n"
    "object per logged step and per validation), last.ckpt after every epoch and best.ckpt\n"
    "by train.best_metric. --resume continues from DIR/last.ckpt exactly where it stopped\n"
    "(same optimiser state, schedule and data order); without --config it reuses the run's.\n"
    "--nproc N trains data-parallel on N local processes (train.batch_size per process); for\n"
    "several machines start the ranks with torchrun's variables (docs/distributed.md).\n\n"
    "example: mbmd train --config mbmdnet_r50_mhfpn --work-dir runs/mhfpn \\\n"
    "           --set data.dataset=mias --set data.root=/data/mini-mias --set train.epochs=24";

int train_command(const Args& args) {
  engine::TrainRunOptions options;
  ArgParser parser("train", kSummary);
  parser.option("config", "config file or name under configs/")
      .to(&options.config)
      .option("work-dir", "folder for checkpoints, logs and the resolved config")
      .to(&options.train.work_dir)
      .flag("resume", "continue the run in --work-dir from its last.ckpt")
      .to(&options.train.resume)
      .config_overrides(&options.overrides, &options.threads)
      .option("stop-after-epoch",
              "stop once this many epochs are done (continue later with --resume)", "0")
      .to(&options.train.stop_after_epoch)
      .flag("quiet", "no progress line on stderr")
      .option("nproc", "data-parallel processes on this machine (each with train.batch_size)", "1")
      .to(&options.nproc)
      .option("dist-timeout",
              "seconds a rank waits for the others (rendezvous, gradients, the per-epoch "
              "barrier) before it stops",
              "300")
      .to(&options.train.dist_timeout_s);
  if (!parser.parse(args)) return 0;
  if (!parser.positionals().empty())
    throw Error("train takes no positional arguments, got '" + parser.positionals()[0] + "'");
  options.train.progress = !parser.has("quiet");
  options.rank_args = without_nproc(args);
  const engine::TrainRunResult run = engine::run_training(options);
  if (run.launched) {
    if (run.exit_code != 0) std::cerr << run.message << "\n";
    return run.exit_code;
  }
  const engine::TrainResult& result = run.train;
  if (result.rank != 0) return 0;  // rank 0 reports for the run
  std::cout << "epochs done: " << result.epochs_done << ", iterations: " << result.iters_done
            << "\nlast checkpoint: " << result.last_checkpoint << "\n";
  if (!result.best_checkpoint.empty())
    std::cout << "best checkpoint: " << result.best_checkpoint << " (" << result.best_metric << " "
              << result.best_value << " at epoch " << result.best_epoch << ")\n";
  return 0;
}

}  // namespace mbmd::cli
