// Learning-rate schedule values worked out by hand (mmcv's LrUpdaterHook formulas).
#include "mbmd/train/schedule.h"

#include <gtest/gtest.h>

#include <cmath>

#include "mbmd/core/error.h"

namespace mbmd::engine {
namespace {

Json config_with(const std::vector<std::string>& sets) {
  Json config = default_config();
  apply_overrides(config, sets);
  return config;
}

TEST(Schedule, LinearScalingRule) {
  // lr 0.02 for a batch of 16, batch 2: 0.0025.
  const auto o = schedule_options_from_config(config_with({"train.batch_size=2"}));
  EXPECT_DOUBLE_EQ(o.base_lr, 0.0025);
  const auto unscaled =
      schedule_options_from_config(config_with({"train.batch_size=2", "train.scale_lr=false"}));
  EXPECT_DOUBLE_EQ(unscaled.base_lr, 0.02);
}

TEST(Schedule, StepWithWarmup) {
  ScheduleOptions o;
  o.base_lr = 0.01;
  o.policy = "step";
  o.steps = {8, 11};
  o.gamma = 0.1;
  o.epochs = 12;
  o.warmup_iters = 500;
  o.warmup_ratio = 0.001;
  const LrSchedule s(o, 100);  // 100 iterations per epoch
  // Warm-up: lr = 0.01 * (1 - (1 - i/500) * 0.999).
  EXPECT_NEAR(s.lr(0), 0.01 * 0.001, 1e-15);
  EXPECT_NEAR(s.lr(250), 0.01 * (1 - 0.5 * 0.999), 1e-15);    // 0.005005
  EXPECT_NEAR(s.lr(499), 0.01 * (1 - 0.002 * 0.999), 1e-15);  // 0.00998002
  EXPECT_NEAR(s.lr(500), 0.01, 1e-15);
  // Epoch 7 (iterations 700..799) still at the base rate, epoch 8 after the first step.
  EXPECT_NEAR(s.lr(799), 0.01, 1e-15);
  EXPECT_NEAR(s.lr(800), 0.001, 1e-15);
  EXPECT_NEAR(s.lr(1099), 0.001, 1e-15);
  EXPECT_NEAR(s.lr(1100), 0.0001, 1e-15);
  EXPECT_NEAR(s.lr(1199), 0.0001, 1e-15);
}

TEST(Schedule, WarmupAppliesToTheSteppedRate) {
  // Warm-up longer than the first step: epoch 1 (iterations 10..19) is stepped to 0.1 * 0.1 and
  // the warm-up factor multiplies that rate.
  ScheduleOptions o;
  o.base_lr = 0.1;
  o.steps = {1};
  o.gamma = 0.1;
  o.epochs = 3;
  o.warmup_iters = 20;
  o.warmup_ratio = 0.5;
  const LrSchedule s(o, 10);
  EXPECT_NEAR(s.lr(5), 0.1 * (1 - 0.75 * 0.5), 1e-15);   // 0.0625
  EXPECT_NEAR(s.lr(10), 0.01 * (1 - 0.5 * 0.5), 1e-15);  // 0.0075
  EXPECT_NEAR(s.lr(20), 0.01, 1e-15);
}

TEST(Schedule, CosineByEpoch) {
  ScheduleOptions o;
  o.base_lr = 0.01;
  o.policy = "cosine";
  o.epochs = 10;
  o.min_lr_ratio = 0.1;
  o.warmup_iters = 0;
  const LrSchedule s(o, 4);
  // end 0.001; lr(e) = 0.001 + 0.0045 * (1 + cos(pi * e / 10)).
  EXPECT_NEAR(s.lr(0), 0.01, 1e-15);
  EXPECT_NEAR(s.lr(3), 0.01, 1e-15);     // still epoch 0
  EXPECT_NEAR(s.lr(20), 0.0055, 1e-15);  // epoch 5: cos(pi/2) = 0
  EXPECT_NEAR(s.lr(36), 0.001 + 0.0045 * (1 + std::cos(M_PI * 0.9)), 1e-15);  // 0.00122
  EXPECT_NEAR(s.regular_lr(10), 0.001, 1e-15);
}

TEST(Schedule, BadValuesNameTheKey) {
  EXPECT_THROW(schedule_options_from_config(config_with({"train.schedule=linear"})), Error);
  try {
    schedule_options_from_config(config_with({"train.steps=[11,8]"}));
    FAIL() << "decreasing steps accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("train.steps"), std::string::npos) << e.what();
  }
  EXPECT_THROW(schedule_options_from_config(config_with({"train.warmup_ratio=0"})), Error);
  EXPECT_THROW(schedule_options_from_config(config_with({"train.epochs=0"})), Error);
  EXPECT_THROW(LrSchedule(ScheduleOptions{}, 0), Error);
}

}  // namespace
}  // namespace mbmd::engine
