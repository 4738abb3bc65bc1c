// COCO files through the COCO reader and coco_average_precision, checked against pycocotools'
// COCOeval on the fixtures written by tools/make_eval_fixtures.py, and against hand-worked AP on
// the hand-built files tests/fixtures/eval/hand_ranked_*.json.
#include <gtest/gtest.h>

#include <fstream>

#include "mbmd/eval/coco_ap.h"
#include "mbmd/eval/coco_io.h"
#include "mbmd_paths.h"

namespace mbmd::engine {
namespace {

const std::string kFixtures = std::string(MBMD_SOURCE_DIR) + "/tests/fixtures/eval/";

EvalSet load(const std::string& name) {
  EvalSet set = read_coco_ground_truth(kFixtures + name + "_gt.json");
  set.detections = read_coco_results(kFixtures + name + "_dets.json", set);
  return set;
}

nlohmann::json expected(const std::string& name) {
  std::ifstream in(kFixtures + "coco_expected.json");
  return nlohmann::json::parse(in).at(name);
}

class PycocotoolsParity : public ::testing::TestWithParam<std::string> {};

TEST_P(PycocotoolsParity, MatchesCocoEval) {
  const EvalSet set = load(GetParam());
  const nlohmann::json want = expected(GetParam());
  ASSERT_FALSE(set.detections.empty());

  const CocoApResult r = coco_average_precision(set, CocoApParams{{0.2, 0.5, 0.75}});
  for (double t : {0.2, 0.5, 0.75}) {
    const std::string key = t == 0.2 ? "0.2" : t == 0.5 ? "0.5" : "0.75";
    EXPECT_NEAR(r.ap_at(t), want["ap"][key].get<double>(), 1e-12) << "AP@" << key;
  }
  EXPECT_NEAR(r.ap_at(0.5, "small"), want["ap50_small"].get<double>(), 1e-12);
  EXPECT_NEAR(r.ap_at(0.5, "medium"), want["ap50_medium"].get<double>(), 1e-12);
  EXPECT_NEAR(r.ap_at(0.5, "large"), want["ap50_large"].get<double>(), 1e-12);

  // COCO's ten thresholds 0.5:0.95, as np.linspace makes them.
  CocoApParams coco;
  coco.iou_thrs = want["coco_iou_thrs"].get<std::vector<double>>();
  const CocoApResult c = coco_average_precision(set, coco);
  const auto want_ap = want["coco_ap"].get<std::vector<double>>();
  double mean = 0;
  for (size_t t = 0; t < coco.iou_thrs.size(); ++t) {
    EXPECT_NEAR(c.ap[t][0], want_ap[t], 1e-12) << "IoU " << coco.iou_thrs[t];
    mean += c.ap[t][0] / coco.iou_thrs.size();
  }
  EXPECT_NEAR(mean, want["coco_ap_50_95"].get<double>(), 1e-12);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PycocotoolsParity,
                         ::testing::Values("coco_one_class", "coco_three_classes", "coco_max_dets",
                                           "hand_ranked"));

TEST(CocoEval, MaxDetsMattersOnTheBusyImage) {
  // The fixture has 130+ boxes on one image: keeping them all changes AP, so the parity above
  // really checks the cut at 100.
  const EvalSet set = load("coco_max_dets");
  CocoApParams all{{0.5}};
  all.max_dets = 1000;
  EXPECT_GT(std::abs(coco_average_precision(set, all).ap_at(0.5) -
                     expected("coco_max_dets")["ap"]["0.5"].get<double>()),
            1e-6);
}

TEST(CocoEval, HandBuiltFiles) {
  // hand_ranked: image 1 has masses a1 [0,0,10,10] (area 100) and a2 [20,20,10,10] (area 100);
  // image 2 has b1 [0,0,10,10] with area 5000 (medium by its `area`); image 3 has c1
  // [50,50,10,10] with area 10000 (large); image 4 is normal (and listed first in the file).
  // Results, best first: 0.9 on a1 (IoU 1), 0.8 on b1 ([0,0,10,20]: IoU 0.5), 0.7 on image 4,
  // 0.6 on a1 again, 0.5 on c1 (IoU 1), 0.4 near a2 ([20,20,15,15]: IoU 100/225).
  const EvalSet set = load("hand_ranked");
  EXPECT_EQ(set.image_ids, (std::vector<std::string>{"1", "2", "3", "4"}));
  ASSERT_EQ(set.ground_truths.size(), 4u);
  EXPECT_EQ(set.ground_truths[1].box, (Box{20, 20, 30, 30}));
  EXPECT_EQ(set.ground_truths[2].area, 5000);
  const CocoApResult r = coco_average_precision(set, CocoApParams{{0.2, 0.5, 0.75}});
  // IoU 0.5: TP TP FP FP TP FP over 4 masses; envelope 1 1 2/3 3/5 3/5 1/2 at recall .25 .5 .5
  // .5 .75 .75: (51 * 1 + 25 * 3/5) / 101.
  EXPECT_NEAR(r.ap_at(0.5), 66.0 / 101, 1e-12);
  // IoU 0.75: TP FP FP FP TP FP: (26 * 1 + 25 * 2/5) / 101.
  EXPECT_NEAR(r.ap_at(0.75), 36.0 / 101, 1e-12);
  // IoU 0.2: TP TP FP FP TP TP: (51 * 1 + 50 * 2/3) / 101.
  EXPECT_NEAR(r.ap_at(0.2), 253.0 / 303, 1e-12);
  // Small (a1, a2; b1 and c1 ignored with the boxes matched to them): TP FP FP FP over 2 masses
  // -> recall .5 at precision 1 first: 51/101.
  EXPECT_NEAR(r.ap_at(0.5, "small"), 51.0 / 101, 1e-12);
  // Medium: only b1 counts and the unmatched boxes are small (area 100, 100, 225) and ignored:
  // one TP, AP 1. Large: likewise with c1.
  EXPECT_NEAR(r.ap_at(0.5, "medium"), 1.0, 1e-12);
  EXPECT_NEAR(r.ap_at(0.5, "large"), 1.0, 1e-12);
}

}  // namespace
}  // namespace mbmd::engine
