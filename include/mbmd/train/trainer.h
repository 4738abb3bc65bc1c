// The training loop (issue 4): SGD with momentum and weight decay, warm-up and step or cosine
// schedule, gradient clipping, validation every train.val_interval epochs with the paper's
// metrics, best.ckpt by train.best_metric and last.ckpt after every epoch (both atomic), a
// log.jsonl of steps and validations, and an exact resume: weights, momentum buffers, schedule
// position and data order are restored, and every iteration reseeds the global generator from
// (train.seed, iteration), so a resumed run ends with the weights an uninterrupted one has.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

#include "mbmd/core/config.h"

namespace mbmd::engine {

struct TrainOptions {
  std::string work_dir;
  bool resume = false;  // continue from work_dir/last.ckpt
  // Stop once this many epochs are complete (0: run train.epochs), as if interrupted: the run
  // can be continued with `resume`.
  int64_t stop_after_epoch = 0;
  bool progress = true;  // progress line (loss, it/s, ETA) on stderr
  // Data-parallel runs (docs/distributed.md): how long rendezvous and every collective wait for
  // the other ranks before this rank stops with an error.
  double dist_timeout_s = 300.0;
};

struct TrainResult {
  int64_t epochs_done = 0;
  int64_t iters_done = 0;
  std::string last_checkpoint;
  std::string best_checkpoint;  // empty when no validation ran
  std::string best_metric;
  double best_value = 0.0;
  int64_t best_epoch = 0;
  int rank = 0;  // this process's rank in a data-parallel run (0 of 1 alone)
  int world_size = 1;
};

// Checks everything before writing anything: a work dir that is a file, a last.ckpt that exists
// without `resume` or is missing or unreadable with it, bad config values, an empty training set
// are mbmd::Error and leave the work dir as it was. A NaN or infinite loss stops the run with an
// mbmd::Error naming the iteration and the loss parts; last.ckpt then still holds the last
// completed epoch.
//
// Data-parallel: with torchrun's variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) in the
// environment every rank runs train() with the same config: rank 0's initial weights are
// broadcast, each rank reads its shard of every epoch, gradients are averaged during backward
// (GradientReducer), and rank 0 alone writes the work dir (config.json, log.jsonl with losses
// averaged over the ranks, checkpoints), prints progress and validates. A rank that dies or hangs
// makes the others throw an mbmd::Error within options.dist_timeout_s.
TrainResult train(const Json& config, const TrainOptions& options);

}  // namespace mbmd::engine
