// `mbmd train`: trains a detector from a config into a work dir (docs/training.md).
#include <filesystem>
#include <iostream>

#include "arg_parser.h"
#include "command.h"
#include "mbmd/core/config.h"
#include "mbmd/core/error.h"
#include "mbmd/core/threads.h"
#include "mbmd/engine/checkpointing.h"
#include "mbmd/engine/trainer.h"
#include "mbmd/io/checkpoint.h"

namespace mbmd::cli {

int train_command(const Args& args) {
  ArgParser parser(
      "train",
      "Trains a detector: SGD with momentum and weight decay, warm-up, step or cosine schedule,\n"
      "validation every train.val_interval epochs. DIR gets config.json, log.jsonl (one JSON\n"
      "object per logged step and per validation), last.ckpt after every epoch and best.ckpt\n"
      "by train.best_metric. --resume continues from DIR/last.ckpt exactly where it stopped\n"
      "(same optimiser state, schedule and data order); without --config it reuses the run's.\n\n"
      "example: mbmd train --config mbmdnet_r50_mhfpn --work-dir runs/mhfpn \\\n"
      "           --set data.dataset=mias --set data.root=/data/mini-mias --set train.epochs=24");
  parser.option("config", "config file or name under configs/")
      .option("work-dir", "folder for checkpoints, logs and the resolved config")
      .flag("resume", "continue the run in --work-dir from its last.ckpt")
      .option("set", "override a config key: key=value", "", true)
      .option("threads", "intra-op threads (0: all cores; default runtime.threads)")
      .option("stop-after-epoch",
              "stop once this many epochs are done (continue later with --resume)", "0")
      .flag("quiet", "no progress line on stderr");
  if (!parser.parse(args)) return 0;
  if (!parser.positionals().empty())
    throw Error("train takes no positional arguments, got '" + parser.positionals()[0] + "'");
  if (!parser.has("work-dir")) throw Error("train needs --work-dir DIR");
  const std::string work_dir = parser.get("work-dir");
  const bool resume = parser.has("resume");

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
  if (options.progress) std::cerr << "mbmd train: " << threads << " threads\n";
  const auto result = engine::train(config, options);
  std::cout << "epochs done: " << result.epochs_done << ", iterations: " << result.iters_done
            << "\nlast checkpoint: " << result.last_checkpoint << "\n";
  if (!result.best_checkpoint.empty())
    std::cout << "best checkpoint: " << result.best_checkpoint << " (" << result.best_metric << " "
              << result.best_value << " at epoch " << result.best_epoch << ")\n";
  return 0;
}

}  // namespace mbmd::cli
