// Training checkpoints: the model's weights, the optimiser's momentum buffers (section
// "optimizer"), and in the meta the run's progress and its resolved config, so that a run can be
// resumed exactly and a checkpoint can be used for prediction without its config file.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/sgd.h>

#include <string>

#include "mbmd/core/config.h"
#include "mbmd/io/checkpoint.h"

namespace mbmd::engine {

// Where a run stands after a completed epoch.
struct TrainState {
  int64_t epoch = 0;            // epochs completed
  int64_t iter = 0;             // iterations completed (global)
  int64_t iters_per_epoch = 0;  // to check that a resumed run sees the same data
  std::string best_metric;      // e.g. "ap50"
  double best_value = 0.0;
  int64_t best_epoch = 0;  // 0: no validation yet
  double lr = 0.0;         // the rate of the last iteration
};

// meta: {"format": "mbmd-train", "version": 1, "epoch", "iter", "iters_per_epoch",
// "best": {"metric", "value", "epoch"}, "lr", "config": {...}}.
Json train_state_to_meta(const TrainState& state, const Json& config);
// Reads the progress back; an entry that is missing or of the wrong kind is an mbmd::Error
// naming `origin`.
TrainState train_state_from_meta(const Json& meta, const std::string& origin);

// Writes `path` atomically: weights, momentum buffers when `optimizer` is given, state and config.
void save_training_checkpoint(const std::string& path, const torch::nn::Module& model,
                              const torch::optim::SGD* optimizer, const TrainState& state,
                              const Json& config);


}  // namespace mbmd::engine
