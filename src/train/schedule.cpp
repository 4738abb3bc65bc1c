#include "mbmd/train/schedule.h"

#include <cmath>

#include "mbmd/core/error.h"

namespace mbmd::engine {

ScheduleOptions schedule_options_from_config(const Json& config) {
  const Json& t = config_at(config, "train");
  ScheduleOptions o;
  const double lr = t.at("lr").get<double>();
  const int64_t batch = t.at("batch_size").get<int64_t>();
  const int64_t base_batch = t.at("lr_base_batch").get<int64_t>();
  if (!(lr >= 0.0)) throw Error("config key 'train.lr' must be >= 0, got " + t.at("lr").dump());
  if (batch < 1)
    throw Error("config key 'train.batch_size' must be >= 1, got " + std::to_string(batch));
  if (base_batch < 1)
    throw Error("config key 'train.lr_base_batch' must be >= 1, got " + std::to_string(base_batch));
  // mmdetection's linear scaling rule (auto_scale_lr): lr * batch / base batch.
  o.base_lr = t.at("scale_lr").get<bool>() ? lr * static_cast<double>(batch) / base_batch : lr;
  o.policy = t.at("schedule").get<std::string>();
  if (o.policy != "step" && o.policy != "cosine")
    throw Error("config key 'train.schedule' must be \"step\" or \"cosine\", got \"" + o.policy +
                "\"");
  o.steps = t.at("steps").get<std::vector<int64_t>>();
  for (size_t i = 0; i < o.steps.size(); ++i)
    if (o.steps[i] < 0 || (i > 0 && o.steps[i] <= o.steps[i - 1]))
      throw Error("config key 'train.steps' must hold increasing epochs >= 0, got " +
                  t.at("steps").dump());
  o.gamma = t.at("gamma").get<double>();
  if (!(o.gamma > 0.0))
    throw Error("config key 'train.gamma' must be > 0, got " + t.at("gamma").dump());
  o.epochs = t.at("epochs").get<int64_t>();
  if (o.epochs < 1)
    throw Error("config key 'train.epochs' must be >= 1, got " + std::to_string(o.epochs));
  o.min_lr_ratio = t.at("min_lr_ratio").get<double>();
  if (!(o.min_lr_ratio >= 0.0))
    throw Error("config key 'train.min_lr_ratio' must be >= 0, got " + t.at("min_lr_ratio").dump());
  o.warmup_iters = t.at("warmup_iters").get<int64_t>();
  if (o.warmup_iters < 0)
    throw Error("config key 'train.warmup_iters' must be >= 0, got " +
                std::to_string(o.warmup_iters));
  o.warmup_ratio = t.at("warmup_ratio").get<double>();
  if (!(o.warmup_ratio > 0.0 && o.warmup_ratio <= 1.0))
    throw Error("config key 'train.warmup_ratio' must be in (0, 1], got " +
                t.at("warmup_ratio").dump());
  return o;
}

LrSchedule::LrSchedule(ScheduleOptions options, int64_t iters_per_epoch)
    : options_(std::move(options)), iters_per_epoch_(iters_per_epoch) {
  if (iters_per_epoch_ < 1) throw Error("a schedule needs at least one iteration per epoch");
}

double LrSchedule::regular_lr(int64_t epoch) const {
  const auto& o = options_;
  if (o.policy == "cosine") {
    // mmcv annealing_cos(start, end, factor) with factor = epoch / max_epochs.
    const double factor = static_cast<double>(epoch) / static_cast<double>(o.epochs);
    const double end = o.base_lr * o.min_lr_ratio;
    return end + 0.5 * (o.base_lr - end) * (1.0 + std::cos(M_PI * factor));
  }
  int passed = 0;
  for (const int64_t step : o.steps) passed += epoch >= step;
  return o.base_lr * std::pow(o.gamma, passed);
}

double LrSchedule::lr(int64_t iter) const {
  const double regular = regular_lr(iter / iters_per_epoch_);
  const auto& o = options_;
  if (iter >= o.warmup_iters) return regular;
  // mmcv's linear warm-up: k = (1 - iter / warmup_iters) * (1 - ratio), lr = regular * (1 - k).
  const double k = (1.0 - static_cast<double>(iter) / o.warmup_iters) * (1.0 - o.warmup_ratio);
  return regular * (1.0 - k);
}

}  // namespace mbmd::engine
