// The pooled test parts of a cross-validation: their intervals report TPR and FPPI at each fold's
// own operating threshold, as the per-fold summary does, not at a threshold chosen on the test
// parts themselves.
#include "cv_pooled.h"

#include <gtest/gtest.h>

#include "mbmd/core/json_file.h"
#include "pooled_run.h"
#include "temp_dir.h"

namespace mbmd::engine {
namespace {

namespace fs = std::filesystem;

TEST(PooledIntervals, TprAndFppiAtEachFoldsOwnThreshold) {
  const fs::path dir = mbmd::testing::fresh_test_dir("mbmd_cv_pooled_");
  // Fold 0 (image 1) operates at 0.5, so its hit at 0.4 does not count; fold 1 (image 2) at 0.2
  // keeps its hit at 0.3 and its false positive at 0.25 (x 40: no overlap).
  mbmd::testing::write_pooled_run(dir,
                                  {mbmd::testing::pooled_detection(1, 0, 0.4, 10),
                                   mbmd::testing::pooled_detection(2, 1, 0.3, 10),
                                   mbmd::testing::pooled_detection(2, 1, 0.25, 40)},
                                  {{0, 0.5}, {1, 0.2}});
  Json config = default_config();
  apply_overrides(config, {"eval.hit_iou=0.5"});
  BootstrapOptions bootstrap;
  bootstrap.resamples = 20;
  pooled_intervals(dir.string(), config, bootstrap);
  const Json metrics = read_json_file((dir / "intervals.json").string())["metrics"];
  // At a threshold chosen on these two films it would be TPR 1 at FPPI 0.5.
  EXPECT_DOUBLE_EQ(metrics["tpr"]["value"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(metrics["fppi"]["value"].get<double>(), 0.5);
  EXPECT_GT(metrics["ap50"]["value"].get<double>(), 0.0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mbmd::engine
