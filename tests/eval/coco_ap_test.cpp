// COCO AP on hand-computed cases. Each case writes out the ranked list, its precision / recall
// steps and the 101-point interpolation, so that the expected AP is a fraction worked by hand.
#include "mbmd/eval/coco_ap.h"

#include <gtest/gtest.h>

#include "eval/eval_builders.h"
#include "mbmd/core/error.h"

namespace mbmd::engine {
namespace {

using test::det;
using test::gt;

CocoApParams thresholds(std::vector<double> thrs) {
  CocoApParams params;
  params.iou_thrs = std::move(thrs);
  return params;
}

// Images A, B, C hold 4 masses; D is normal. Detections, best first:
//   0.9 A on a1 (IoU 1)      0.8 B on b1 (IoU 100/200 = 0.5)   0.7 D (nothing there)
//   0.6 A on a1 again        0.5 C on c1 (IoU 1)               0.4 A near a2 (IoU 100/225 = 0.444)
EvalSet ranked_list() {
  EvalSet set;
  set.image_ids = {"A", "B", "C", "D"};
  set.ground_truths = {gt("A", {0, 0, 10, 10}), gt("A", {20, 20, 30, 30}), gt("B", {0, 0, 10, 10}),
                       gt("C", {50, 50, 60, 60})};
  set.detections = {det("A", {0, 0, 10, 10}, 0.9),   det("B", {0, 0, 10, 20}, 0.8),
                    det("D", {0, 0, 10, 10}, 0.7),   det("A", {0, 0, 10, 10}, 0.6),
                    det("C", {50, 50, 60, 60}, 0.5), det("A", {20, 20, 35, 35}, 0.4)};
  return set;
}

TEST(CocoAp, RankedListAtThreeThresholds) {
  const CocoApResult r = coco_average_precision(ranked_list(), thresholds({0.2, 0.5, 0.75}));
  // IoU 0.5: TP TP FP FP TP FP; recall .25 .5 .5 .5 .75 .75; precision 1 1 2/3 1/2 3/5 1/2;
  // envelope 1 1 2/3 3/5 3/5 1/2. Recall points 0..0.50 (51) -> 1, 0.51..0.75 (25) -> 3/5,
  // 0.76..1 -> 0: AP = (51 + 25 * 3/5) / 101 = 66/101.
  EXPECT_NEAR(r.ap_at(0.5), 66.0 / 101, 1e-12);
  // IoU 0.75: the 0.8 detection (IoU 0.5) is a FP: TP FP FP FP TP FP; recall .25 .25 .25 .25 .5
  // .5; precision 1 1/2 1/3 1/4 2/5 1/3; envelope 1 .5 .4 .4 .4 1/3. Points 0..0.25 (26) -> 1,
  // 0.26..0.50 (25) -> 2/5: AP = (26 + 10) / 101 = 36/101.
  EXPECT_NEAR(r.ap_at(0.75), 36.0 / 101, 1e-12);
  // IoU 0.2: the 0.4 detection finds a2: TP TP FP FP TP TP; recall .25 .5 .5 .5 .75 1; precision
  // 1 1 2/3 1/2 3/5 2/3; envelope 1 1 2/3 2/3 2/3 2/3. Points 0..0.50 (51) -> 1, the other 50 ->
  // 2/3: AP = (51 + 100/3) / 101 = 253/303.
  EXPECT_NEAR(r.ap_at(0.2), 253.0 / 303, 1e-12);
  // Final recall at 0.5: 3 of 4.
  EXPECT_NEAR(r.recall[1][0], 0.75, 1e-12);
  EXPECT_EQ(r.precision[1][0][0].size(), 101u);
  EXPECT_DOUBLE_EQ(r.precision[1][0][0][75], 0.6);
  EXPECT_DOUBLE_EQ(r.precision[1][0][0][76], 0.0);
}

TEST(CocoAp, ImagesWithoutGroundTruthOrDetectionsChangeNothingElse) {
  EvalSet set = ranked_list();
  // A fifth image with a mass and no detection: 5 masses, so every recall step shrinks.
  set.image_ids.push_back("E");
  set.ground_truths.push_back(gt("E", {0, 0, 10, 10}));
  const CocoApResult r = coco_average_precision(set, thresholds({0.5}));
  // IoU 0.5: recall .2 .4 .4 .4 .6 .6 with the same envelope 1 1 2/3 3/5 3/5 1/2.
  // Points 0..0.40 (41) -> 1, 0.41..0.60 (20) -> 3/5: AP = (41 + 12) / 101 = 53/101.
  EXPECT_NEAR(r.ap_at(0.5), 53.0 / 101, 1e-12);
  // A sixth, normal image without detections changes nothing.
  set.image_ids.push_back("F");
  EXPECT_NEAR(coco_average_precision(set, thresholds({0.5})).ap_at(0.5), 53.0 / 101, 1e-12);
}

TEST(CocoAp, TiesAcrossImagesFollowTheImageOrder) {
  // Two images with one mass each; a TP on image 1 and a FP on image 2, both with score 0.9.
  EvalSet set;
  set.image_ids = {"1", "2"};
  set.ground_truths = {gt("1", {0, 0, 10, 10}), gt("2", {0, 0, 10, 10})};
  set.detections = {det("2", {50, 50, 60, 60}, 0.9), det("1", {0, 0, 10, 10}, 0.9)};
  // Image 1 first: TP FP; recall .5 .5; precision 1 1/2 -> points 0..0.5 (51) at 1: 51/101.
  EXPECT_NEAR(coco_average_precision(set, thresholds({0.5})).ap_at(0.5), 51.0 / 101, 1e-12);
  // Image 2 first: FP TP; recall 0 .5; precision 0 1/2, envelope 1/2 1/2 -> 51 points at 1/2.
  set.image_ids = {"2", "1"};
  EXPECT_NEAR(coco_average_precision(set, thresholds({0.5})).ap_at(0.5), 25.5 / 101, 1e-12);
}

TEST(CocoAp, TiesWithinAnImageKeepTheGivenOrder) {
  EvalSet set;
  set.image_ids = {"1"};
  set.ground_truths = {gt("1", {0, 0, 10, 10})};
  // FP then TP at equal scores: precision 0 1/2, recall 0 1 -> envelope 1/2 everywhere.
  set.detections = {det("1", {50, 50, 60, 60}, 0.5), det("1", {0, 0, 10, 10}, 0.5)};
  EXPECT_NEAR(coco_average_precision(set, thresholds({0.5})).ap_at(0.5), 0.5, 1e-12);
  // TP then FP: precision 1 at recall 1 is reached first: AP 1.
  std::swap(set.detections[0], set.detections[1]);
  EXPECT_NEAR(coco_average_precision(set, thresholds({0.5})).ap_at(0.5), 1.0, 1e-12);
}

TEST(CocoAp, EqualIousGoToTheLaterGroundTruth) {
  // The 0.9 box overlaps g1 and g2 equally (IoU 100/150). pycocotools keeps the later one (its
  // test is `iou < best`), so g1 stays free for the 0.8 box: two TPs, AP 1. Had it taken g1, the
  // 0.8 box would be a FP (IoU 50/150 with g2) and AP would be 51/101.
  EvalSet set;
  set.image_ids = {"1"};
  set.ground_truths = {gt("1", {0, 0, 10, 10}), gt("1", {5, 0, 15, 10})};
  set.detections = {det("1", {0, 0, 15, 10}, 0.9), det("1", {0, 0, 10, 10}, 0.8)};
  EXPECT_NEAR(coco_average_precision(set, thresholds({0.5})).ap_at(0.5), 1.0, 1e-12);
}

TEST(CocoAp, CrowdRegionsAbsorbDetections) {
  EvalSet set;
  set.image_ids = {"1"};
  set.ground_truths = {gt("1", {0, 0, 10, 10}), gt("1", {100, 100, 200, 200}, 1, -1, true)};
  // Two boxes inside the crowd region (crowd IoU = intersection / detection area = 1) are both
  // ignored; the third finds the mass: AP 1.
  set.detections = {det("1", {110, 110, 120, 120}, 0.9), det("1", {150, 150, 160, 160}, 0.8),
                    det("1", {0, 0, 10, 10}, 0.7)};
  EXPECT_NEAR(coco_average_precision(set, thresholds({0.5})).ap_at(0.5), 1.0, 1e-12);
  // As a plain ground truth the region has IoU 0.01 with them: FP FP TP over 2 masses; recall 0
  // 0 .5, precision 0 0 1/3 -> 51 points at 1/3: AP = 17/101.
  set.ground_truths[1].iscrowd = false;
  EXPECT_NEAR(coco_average_precision(set, thresholds({0.5})).ap_at(0.5), 17.0 / 101, 1e-12);
}

TEST(CocoAp, RealGroundTruthComesBeforeIgnoredOne) {
  // The detection overlaps an ignored region best (IoU 1) and the mass well (IoU 100/120); the
  // mass is tried first and, once matched, the ignored ones after it cannot replace it: a TP.
  EvalSet set;
  set.image_ids = {"1"};
  set.ground_truths = {gt("1", {0, 0, 10, 12}), gt("1", {0, 0, 10, 10})};
  set.ground_truths[0].ignore = true;
  set.detections = {det("1", {0, 0, 10, 12}, 0.9)};
  EXPECT_NEAR(coco_average_precision(set, thresholds({0.5})).ap_at(0.5), 1.0, 1e-12);
}

TEST(CocoAp, AreaRangesUseTheGroundTruthArea) {
  EvalSet set;
  set.image_ids = {"1"};
  // g1 is a 10x10 box whose `area` says medium; g2 is large.
  set.ground_truths = {gt("1", {0, 0, 10, 10}, 1, 2000), gt("1", {100, 100, 200, 200}, 1, 10000)};
  set.detections = {det("1", {0, 0, 10, 10}, 0.9), det("1", {300, 300, 305, 305}, 0.8),
                    det("1", {100, 100, 200, 200}, 0.7)};
  const CocoApResult r = coco_average_precision(set, thresholds({0.5}));
  // all: TP FP TP; recall .5 .5 1; precision 1 1/2 2/3 -> 51 points at 1, 50 at 2/3: 253/303.
  EXPECT_NEAR(r.ap_at(0.5, "all"), 253.0 / 303, 1e-12);
  // medium: g2 ignored, so the 0.7 box is ignored; the 0.8 box is unmatched with area 25 < 32^2,
  // ignored too: a single TP, AP 1.
  EXPECT_NEAR(r.ap_at(0.5, "medium"), 1.0, 1e-12);
  // large: the 0.9 box matched the ignored g1, the 0.8 box is small: AP 1.
  EXPECT_NEAR(r.ap_at(0.5, "large"), 1.0, 1e-12);
  // small: no ground truth in range: -1.
  EXPECT_EQ(r.ap_at(0.5, "small"), -1.0);
}

TEST(CocoAp, AtMostMaxDetsPerImage) {
  EvalSet set;
  set.image_ids = {"1"};
  set.ground_truths = {gt("1", {0, 0, 10, 10}), gt("1", {20, 0, 30, 10}), gt("1", {40, 0, 50, 10})};
  set.detections = {det("1", {40, 0, 50, 10}, 0.7), det("1", {0, 0, 10, 10}, 0.9),
                    det("1", {20, 0, 30, 10}, 0.8)};
  CocoApParams params = thresholds({0.5});
  EXPECT_NEAR(coco_average_precision(set, params).ap_at(0.5), 1.0, 1e-12);
  // The 0.7 box is dropped: recall 1/3 2/3 at precision 1 -> points 0..0.66 (67): 67/101.
  params.max_dets = 2;
  EXPECT_NEAR(coco_average_precision(set, params).ap_at(0.5), 67.0 / 101, 1e-12);
}

TEST(CocoAp, MeanOverCategoriesWithGroundTruth) {
  EvalSet set;
  set.image_ids = {"1"};
  set.categories = {1, 2, 3};
  set.ground_truths = {gt("1", {0, 0, 10, 10}, 1), gt("1", {20, 0, 30, 10}, 2),
                       gt("1", {40, 0, 50, 10}, 2)};
  // Category 1: one TP, AP 1. Category 2: TP, FP with recall .5 .5 -> 51/101. Category 3 has a
  // detection but no ground truth: left out. Mean = (1 + 51/101) / 2 = 76/101.
  set.detections = {det("1", {0, 0, 10, 10}, 0.9, 1), det("1", {20, 0, 30, 10}, 0.8, 2),
                    det("1", {60, 0, 70, 10}, 0.7, 2), det("1", {0, 0, 10, 10}, 0.6, 3)};
  const CocoApResult r = coco_average_precision(set, thresholds({0.5}));
  EXPECT_NEAR(r.ap_at(0.5), 76.0 / 101, 1e-12);
  EXPECT_TRUE(r.precision[0][0][2].empty());
  // A category 1 box on category 2's mass is no match for it.
  set.detections[1].category = 1;
  EXPECT_LT(coco_average_precision(set, thresholds({0.5})).ap_at(0.5), 76.0 / 101 - 0.1);
}

TEST(CocoAp, NoGroundTruthAtAllIsMinusOne) {
  EvalSet set;
  set.image_ids = {"1"};
  set.detections = {det("1", {0, 0, 10, 10}, 0.9)};
  EXPECT_EQ(coco_average_precision(set).ap_at(0.5), -1.0);
}

TEST(CocoAp, IouHasNoPlusOne) {
  EXPECT_DOUBLE_EQ(box_iou({0, 0, 10, 10}, {5, 0, 15, 10}), 50.0 / 150);
  EXPECT_DOUBLE_EQ(box_iou({0, 0, 10, 10}, {10, 0, 20, 10}), 0.0);  // touching edges
  EXPECT_DOUBLE_EQ(box_iou({0, 0, 10, 10}, {0, 0, 100, 100}, true), 1.0);
}

TEST(CocoAp, BadInputIsAnError) {
  EvalSet set = ranked_list();
  set.detections.push_back(det("Z", {0, 0, 1, 1}, 0.1));
  EXPECT_THROW(coco_average_precision(set), Error);
  set = ranked_list();
  set.detections[0].box = {10, 0, 0, 10};
  EXPECT_THROW(coco_average_precision(set), Error);
  set = ranked_list();
  set.categories = {2};
  EXPECT_THROW(coco_average_precision(set), Error);
  EXPECT_THROW(coco_average_precision(ranked_list(), thresholds({1.5})), Error);
  try {
    set = ranked_list();
    set.detections[2].score = std::numeric_limits<double>::quiet_NaN();
    coco_average_precision(set);
    FAIL() << "a NaN score was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("detection 2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mbmd::engine
