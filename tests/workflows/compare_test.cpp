// `mbmd compare` of two cv runs: TPR and FPPI at each fold's own validation threshold, as the
// runs report them, not at one threshold chosen on the pooled test parts.
#include "mbmd/workflows/compare.h"

#include <gtest/gtest.h>

#include "pooled_run.h"
#include "temp_dir.h"

namespace mbmd::engine {
namespace {

namespace fs = std::filesystem;
using mbmd::testing::pooled_detection;

TEST(CompareCvRuns, TprAndFppiAtEachFoldsOwnThreshold) {
  const fs::path dir = mbmd::testing::fresh_test_dir("mbmd_compare_");
  // The same detections; A's fold 0 operates above its hit (0.4), B's folds below everything.
  const Json detections = {pooled_detection(1, 0, 0.4, 10), pooled_detection(2, 1, 0.3, 10),
                           pooled_detection(2, 1, 0.25, 40)};
  mbmd::testing::write_pooled_run(dir / "a", detections, {{0, 0.5}, {1, 0.2}});
  mbmd::testing::write_pooled_run(dir / "b", detections, {{0, 0.1}, {1, 0.1}});
  CompareOptions options;
  options.a = (dir / "a").string();
  options.b = (dir / "b").string();
  options.eval_keys = {{"hit_iou", 0.5}};
  options.bootstrap.resamples = 20;
  const CompareResult result = run_compare(options);
  EXPECT_DOUBLE_EQ(result.paired.at("tpr").a, 0.5);
  EXPECT_DOUBLE_EQ(result.paired.at("tpr").b, 1.0);
  EXPECT_DOUBLE_EQ(result.paired.at("fppi").a, 0.5);
  EXPECT_DOUBLE_EQ(result.paired.at("fppi").b, 0.5);
  // AP needs no threshold: the same detections score the same.
  EXPECT_DOUBLE_EQ(result.paired.at("ap50").a, result.paired.at("ap50").b);
  EXPECT_FALSE(result.operating_point.empty());

  // Results files carry no folds: TPR at the eval settings' own threshold, both sides alike.
  options.a = (dir / "a" / "test_dets.json").string();
  options.b = (dir / "b" / "test_dets.json").string();
  options.gt = (dir / "a" / "test_gt.json").string();
  const CompareResult files = run_compare(options);
  EXPECT_DOUBLE_EQ(files.paired.at("tpr").a, files.paired.at("tpr").b);
  EXPECT_TRUE(files.operating_point.empty());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mbmd::engine
