#include "mbmd/inference/merge.h"

#include <gtest/gtest.h>

#include "mbmd/core/error.h"

namespace mbmd::engine {
namespace {

model::Detections detections(std::vector<float> boxes, std::vector<float> scores,
                             std::vector<int64_t> labels) {
  const auto n = static_cast<int64_t>(scores.size());
  return {at::tensor(boxes, at::kFloat).view({n, 4}), at::tensor(scores, at::kFloat),
          at::tensor(labels, at::kLong)};
}

TEST(Merge, WeightedBoxFusionAveragesByScoreAndDiscountsLoneBoxes) {
  // Two runs find the same mass (IoU 0.68); only the first finds a second one.
  const auto a = detections({0, 0, 10, 10, 50, 50, 60, 60}, {0.8f, 0.6f}, {0, 0});
  const auto b = detections({1, 1, 11, 11}, {0.4f}, {0});
  MergeOptions options;
  options.method = MergeMethod::kWbf;
  const auto merged = merge_detections({a, b}, options);
  ASSERT_EQ(merged.scores.size(0), 2);
  // The fused box: corners weighted 0.8 : 0.4; its score the mean of both, as both runs saw it.
  EXPECT_NEAR(merged.boxes[0][0].item<float>(), 0.4f / 1.2f, 1e-5);
  EXPECT_NEAR(merged.boxes[0][2].item<float>(), (0.8f * 10 + 0.4f * 11) / 1.2f, 1e-5);
  EXPECT_NEAR(merged.scores[0].item<float>(), 0.6f, 1e-6);
  // The lone box keeps its place, at half its score (one of two runs).
  EXPECT_NEAR(merged.boxes[1][0].item<float>(), 50.0f, 1e-6);
  EXPECT_NEAR(merged.scores[1].item<float>(), 0.3f, 1e-6);
}

// Runs over several images merge image by image: image i of each run with image i of the others.
TEST(Merge, RunsMergeImageByImage) {
  const auto a0 = detections({0, 0, 10, 10}, {0.8f}, {0});
  const auto b0 = detections({1, 1, 11, 11}, {0.4f}, {0});
  const auto a1 = detections({50, 50, 60, 60}, {0.6f}, {0});
  const auto b1 = detections({20, 20, 30, 30}, {0.5f}, {0});
  const auto merged = merge_runs_per_image({{a0, a1}, {b0, b1}}, {});
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_TRUE(merged[0].boxes.equal(merge_detections({a0, b0}, {}).boxes));
  EXPECT_TRUE(merged[1].scores.equal(merge_detections({a1, b1}, {}).scores));
  EXPECT_EQ(merged[1].scores.size(0), 2);  // the two boxes of image 1 do not overlap
  EXPECT_THROW(merge_runs_per_image({}, {}), Error);
}

TEST(Merge, ClassesAreMergedApartAndNmsKeepsTheBest) {
  const auto a = detections({0, 0, 10, 10}, {0.8f}, {0});
  const auto b = detections({1, 1, 11, 11, 1, 1, 11, 11}, {0.4f, 0.7f}, {0, 1});
  MergeOptions options;
  options.method = MergeMethod::kNms;
  const auto nms = merge_detections({a, b}, options);
  ASSERT_EQ(nms.scores.size(0), 2);
  EXPECT_NEAR(nms.scores[0].item<float>(), 0.8f, 1e-6);
  EXPECT_EQ(nms.labels[0].item<int64_t>(), 0);
  EXPECT_NEAR(nms.scores[1].item<float>(), 0.7f, 1e-6);
  EXPECT_EQ(nms.labels[1].item<int64_t>(), 1);
  options.method = MergeMethod::kWbf;
  EXPECT_EQ(merge_detections({a, b}, options).scores.size(0), 2);  // one box per class
  options.max_dets = 1;
  EXPECT_EQ(merge_detections({a, b}, options).scores.size(0), 1);
}

TEST(Merge, EmptyRunsAndBadOptions) {
  model::Detections none{at::zeros({0, 4}), at::zeros({0}), at::zeros({0}, at::kLong)};
  EXPECT_EQ(merge_detections({none, model::Detections{}}, {}).scores.size(0), 0);
  EXPECT_THROW(merge_detections({}, {}), Error);
  MergeOptions bad;
  bad.iou_thr = 0.0;
  EXPECT_THROW(merge_detections({none}, bad), Error);
  EXPECT_EQ(parse_merge_method("nms"), MergeMethod::kNms);
  EXPECT_THROW(parse_merge_method("mean"), Error);
}

}  // namespace
}  // namespace mbmd::engine
