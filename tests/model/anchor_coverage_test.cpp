// Anchor coverage: a box that is an anchor is covered (IoU 1), a box far smaller than every
// anchor is not, and boxes are measured at the input size, not in original pixels.
#include "mbmd/model/anchor_coverage.h"

#include <gtest/gtest.h>

#include "mbmd/core/error.h"

namespace mbmd::model {
namespace {

// mmdetection's defaults: anchors of 8 x stride (32 px on level 0, stride 4), centred on
// multiples of the stride; inputs at most 1333 x 800.
DetectorOptions defaults() { return DetectorOptions{}; }

at::Tensor boxes(std::vector<float> xyxy) { return at::tensor(xyxy).view({-1, 4}); }

TEST(AnchorCoverage, AnAnchorIsCoveredATinyBoxIsNot) {
  // An 800 x 1333 film is not resized: the 32 x 32 box centred on (64, 64) is a level-0 anchor.
  const auto c =
      anchor_coverage(defaults(), {{800, 1333}}, {boxes({48, 48, 80, 80, 100, 100, 104, 104})});
  ASSERT_EQ(c.best_iou.size(), 2u);
  EXPECT_NEAR(c.best_iou[0], 1.0, 1e-6);
  EXPECT_LT(c.best_iou[1], 0.1);  // 4 x 4 against 32 x 32 at best: 16 / 1024
  EXPECT_EQ(c.covered, 1);
  EXPECT_DOUBLE_EQ(c.share(), 0.5);
  EXPECT_DOUBLE_EQ(c.pos_iou_thr, 0.7);
}

TEST(AnchorCoverage, BoxesAreMeasuredAtTheInputSize) {
  // Twice the size: resized by 0.5, so the 64 x 64 box becomes the 32 x 32 anchor.
  const auto c = anchor_coverage(defaults(), {{1600, 2666}}, {boxes({96, 96, 160, 160})});
  EXPECT_NEAR(c.best_iou[0], 1.0, 1e-3);
  // A smaller input (448 x 448): the same film's box shrinks below the smallest anchor.
  DetectorOptions small = defaults();
  small.input.max_long = 448;
  small.input.max_short = 448;
  const auto shrunk = anchor_coverage(small, {{1024, 1024}}, {boxes({500, 500, 540, 540})});
  EXPECT_LT(shrunk.best_iou[0], 0.7);  // 17.5 px against 32 px anchors
  EXPECT_EQ(shrunk.covered, 0);
}

TEST(AnchorCoverage, MedianAndEmptyAndMismatch) {
  const auto c = anchor_coverage(defaults(), {{800, 1333}, {800, 1333}},
                                 {boxes({48, 48, 80, 80}), at::Tensor()});
  EXPECT_EQ(c.best_iou.size(), 1u);  // an image without boxes adds none
  EXPECT_NEAR(c.median_best_iou(), 1.0, 1e-6);
  EXPECT_DOUBLE_EQ(AnchorCoverage{}.share(), 0.0);
  EXPECT_THROW(anchor_coverage(defaults(), {{800, 1333}}, {}), Error);
}

}  // namespace
}  // namespace mbmd::model
