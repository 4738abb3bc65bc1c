// The learning-rate schedule of a training run, as mmcv's LrUpdaterHook computes it for
// mmdetection 2.x (by epoch): a regular rate per epoch (step or cosine) with a linear warm-up over
// the first iterations. The rate is a pure function of the global iteration, so a resumed run
// needs nothing but the iteration count to continue the schedule exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mbmd/core/config.h"

namespace mbmd::engine {

struct ScheduleOptions {
  double base_lr = 0.02;  // after scaling with the batch size
  // "step": base_lr * gamma^(number of steps <= epoch); "cosine": annealed from base_lr to
  // base_lr * min_lr_ratio over the epochs (mmcv CosineAnnealing, by epoch).
  std::string policy = "step";
  std::vector<int64_t> steps{8, 11};  // epochs (0-based epoch e >= s has passed step s)
  double gamma = 0.1;
  int64_t epochs = 12;
  double min_lr_ratio = 0.0;
  int64_t warmup_iters = 500;  // 0: no warm-up
  double warmup_ratio = 0.001;
};

// The `train` section: lr scaled by batch_size / lr_base_batch when train.scale_lr, schedule,
// steps, gamma, epochs, min_lr_ratio, warmup_iters, warmup_ratio. Bad values (unknown policy,
// negative numbers, steps not increasing) are mbmd::Error naming the key.
ScheduleOptions schedule_options_from_config(const Json& config);

class LrSchedule {
 public:
  LrSchedule(ScheduleOptions options, int64_t iters_per_epoch);

  // The rate of the epoch without warm-up.
  double regular_lr(int64_t epoch) const;
  // The rate of global iteration `iter` (0-based): epoch = iter / iters_per_epoch; during the
  // first warmup_iters iterations regular * (1 - (1 - iter / warmup_iters) * (1 - warmup_ratio)).
  double lr(int64_t iter) const;

  int64_t iters_per_epoch() const { return iters_per_epoch_; }
  const ScheduleOptions& options() const { return options_; }

 private:
  ScheduleOptions options_;
  int64_t iters_per_epoch_;
};

}  // namespace mbmd::engine
