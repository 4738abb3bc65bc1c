// TPR, FPPI, FROC and CPM on a hand-worked case, under both hit rules.
#include "mbmd/eval/froc.h"

#include <gtest/gtest.h>

#include <cmath>

#include "eval/eval_builders.h"
#include "mbmd/core/error.h"

namespace mbmd::engine {
namespace {

using test::gt;

// Masses m1 [0,0,10,10] and m2 [100,100,120,120] on I1, m3 [0,0,20,20] on I2; I3, I4 normal.
//   score  image  box                 IoU rule (0.5)              centre rule
//   0.9    I1     on m1 (IoU 1)       TP                          TP
//   0.8    I1     m1 again (IoU .68)  neither (m1 found)          neither
//   0.7    I3     normal image        FP                          FP
//   0.6    I2     [0,0,10,10]         FP (IoU .25 with m3)        TP (centre 5,5 in m3)
//   0.5    I1     [105,105,125,125]   FP (IoU 225/575 = .391)     TP (centre in m2)
//   0.4    I4     normal image        FP                          FP
//   0.3    I2     on m3 (IoU 1)       TP                          neither (m3 found)
EvalSet sample() {
  EvalSet set;
  set.image_ids = {"I1", "I2", "I3", "I4"};
  set.ground_truths = {gt("I1", {0, 0, 10, 10}), gt("I1", {100, 100, 120, 120}),
                       gt("I2", {0, 0, 20, 20})};
  set.detections = {{"I2", {0, 0, 20, 20}, 0.3, 1},  {"I1", {0, 0, 10, 10}, 0.9, 1},
                    {"I1", {1, 1, 11, 11}, 0.8, 1},  {"I3", {0, 0, 10, 10}, 0.7, 1},
                    {"I2", {0, 0, 10, 10}, 0.6, 1},  {"I1", {105, 105, 125, 125}, 0.5, 1},
                    {"I4", {50, 50, 60, 60}, 0.4, 1}};
  return set;
}

void expect_point(const OperatingPoint& p, double thr, double tpr, double fppi) {
  EXPECT_DOUBLE_EQ(p.score_thr, thr);
  EXPECT_NEAR(p.tpr, tpr, 1e-12) << "at threshold " << thr;
  EXPECT_NEAR(p.fppi, fppi, 1e-12) << "at threshold " << thr;
}

TEST(DetectionRates, IouRuleFrocPointsAndCpm) {
  const DetectionRates rates(sample(), {HitRule::kIou, 0.5, true});
  EXPECT_EQ(rates.num_masses(), 3);
  EXPECT_EQ(rates.num_images(), 4);
  const auto froc = rates.froc();
  ASSERT_EQ(froc.size(), 7u);
  expect_point(froc[0], 0.9, 1.0 / 3, 0.0);
  expect_point(froc[1], 0.8, 1.0 / 3, 0.0);  // the second box on m1 is no FP
  expect_point(froc[2], 0.7, 1.0 / 3, 0.25);
  expect_point(froc[3], 0.6, 1.0 / 3, 0.5);
  expect_point(froc[4], 0.5, 1.0 / 3, 0.75);
  expect_point(froc[5], 0.4, 1.0 / 3, 1.0);
  expect_point(froc[6], 0.3, 2.0 / 3, 1.0);
  // Sensitivity at 1/8, 1/4, 1/2 FPPI: 1/3; at 1, 2, 4, 8: 2/3. CPM = (3/3 + 8/3) / 7 = 11/21.
  EXPECT_NEAR(rates.sensitivity_at(0.125), 1.0 / 3, 1e-12);
  EXPECT_NEAR(rates.sensitivity_at(0.5), 1.0 / 3, 1e-12);
  EXPECT_NEAR(rates.sensitivity_at(1.0), 2.0 / 3, 1e-12);
  EXPECT_NEAR(rates.cpm(), 11.0 / 21, 1e-12);
  // Given threshold 0.55: boxes 0.9 (TP), 0.8 (neither), 0.7 and 0.6 (FP): TPR 1/3, FPPI 2/4.
  const OperatingPoint p = rates.at(0.55);
  EXPECT_EQ(p.true_positives, 1);
  EXPECT_EQ(p.false_positives, 2);
  expect_point(p, 0.55, 1.0 / 3, 0.5);
  // Best TPR at FPPI <= 1: 2/3 at 0.3. At FPPI <= 0.5 every point has TPR 1/3: the highest
  // threshold wins.
  expect_point(rates.best_under(1.0), 0.3, 2.0 / 3, 1.0);
  expect_point(rates.best_under(0.5), 0.9, 1.0 / 3, 0.0);
}

TEST(DetectionRates, ThresholdRulesPickAmongTheTiesOnTheBestTpr) {
  const DetectionRates iou(sample(), {HitRule::kIou, 0.5, true});
  // FPPI <= 0.5: 0.9, 0.8, 0.7 and 0.6 all have TPR 1/3.
  expect_point(iou.best_under(0.5, ThresholdRule::kHighest), 0.9, 1.0 / 3, 0.0);
  expect_point(iou.best_under(0.5, ThresholdRule::kMiddle), 0.7, 1.0 / 3, 0.25);
  expect_point(iou.best_under(0.5, ThresholdRule::kLowest), 0.6, 1.0 / 3, 0.5);
  // FPPI <= 0.9: five ties, 0.9 .. 0.5; the middle one is the third.
  expect_point(iou.best_under(0.9, ThresholdRule::kMiddle), 0.7, 1.0 / 3, 0.25);
  expect_point(iou.best_under(0.9, ThresholdRule::kLowest), 0.5, 1.0 / 3, 0.75);
  // FPPI <= 1: only 0.3 reaches TPR 2/3, whatever the rule.
  for (ThresholdRule rule :
       {ThresholdRule::kHighest, ThresholdRule::kMiddle, ThresholdRule::kLowest})
    expect_point(iou.best_under(1.0, rule), 0.3, 2.0 / 3, 1.0);
  // Centre rule, FPPI <= 1: TPR 1 at 0.5, 0.4 and 0.3.
  const DetectionRates centre(sample(), {HitRule::kCenter, 0.5, true});
  expect_point(centre.best_under(1.0, ThresholdRule::kMiddle), 0.4, 1.0, 0.5);
  expect_point(centre.best_under(1.0, ThresholdRule::kLowest), 0.3, 1.0, 0.5);
}

TEST(DetectionRates, ThresholdRulesByName) {
  EXPECT_EQ(parse_threshold_rule("highest"), ThresholdRule::kHighest);
  EXPECT_EQ(parse_threshold_rule("middle"), ThresholdRule::kMiddle);
  EXPECT_EQ(parse_threshold_rule("lowest"), ThresholdRule::kLowest);
  EXPECT_EQ(to_string(ThresholdRule::kMiddle), "middle");
  EXPECT_THROW(parse_threshold_rule("median"), Error);
}

TEST(DetectionRates, LowerIouThresholdFindsMore) {
  // At IoU 0.3 the 0.5 box (IoU .391) finds m2: TPR 2/3 at 0.5 with FPPI 2/4.
  const DetectionRates rates(sample(), {HitRule::kIou, 0.3, true});
  expect_point(rates.at(0.5), 0.5, 2.0 / 3, 0.5);
}

TEST(DetectionRates, CenterRule) {
  const DetectionRates rates(sample(), {HitRule::kCenter, 0.5, true});
  const auto froc = rates.froc();
  ASSERT_EQ(froc.size(), 7u);
  expect_point(froc[2], 0.7, 1.0 / 3, 0.25);
  expect_point(froc[3], 0.6, 2.0 / 3, 0.25);
  expect_point(froc[4], 0.5, 1.0, 0.25);
  expect_point(froc[5], 0.4, 1.0, 0.5);
  expect_point(froc[6], 0.3, 1.0, 0.5);  // a second box on m3 is neither TP nor FP
  // Sensitivity 1/3 at 1/8 FPPI, 1 from 1/4 on: CPM = (1/3 + 6) / 7 = 19/21.
  EXPECT_NEAR(rates.cpm(), 19.0 / 21, 1e-12);
  // TPR 1 first at 0.5; 0.4 and 0.3 tie on TPR: the highest threshold is kept.
  expect_point(rates.best_under(1.0), 0.5, 1.0, 0.25);
}

TEST(DetectionRates, NormalImagesCanBeLeftOut) {
  const DetectionRates rates(sample(), {HitRule::kIou, 0.5, false});
  EXPECT_EQ(rates.num_images(), 2);
  // I3's and I4's FPs go with them: 0.9 TP, 0.8 neither, 0.6 FP, 0.5 FP, 0.3 TP.
  const auto froc = rates.froc();
  ASSERT_EQ(froc.size(), 5u);
  expect_point(froc[2], 0.6, 1.0 / 3, 0.5);
  expect_point(froc[3], 0.5, 1.0 / 3, 1.0);
  expect_point(froc[4], 0.3, 2.0 / 3, 1.0);
}

TEST(DetectionRates, EqualScoresMakeOnePoint) {
  EvalSet set = sample();
  set.detections[6].score = 0.5;  // I4's FP now ties with the 0.5 box on I1
  const auto froc = DetectionRates(set).froc();
  ASSERT_EQ(froc.size(), 6u);
  expect_point(froc[4], 0.5, 1.0 / 3, 1.0);
}

TEST(DetectionRates, ABoxTakesTheFreeMassOfHighestIou) {
  EvalSet set;
  set.image_ids = {"1"};
  // Two overlapping masses; the first box overlaps both (IoU 80/110 and 90/100) and takes the
  // second. The second box hits only the first mass (IoU 80/120; 60/140 with the other), so it
  // finds it; had the first box taken the first mass, the second would be neither.
  set.ground_truths = {gt("1", {0, 0, 10, 10}), gt("1", {2, 0, 12, 10})};
  set.detections = {{"1", {2, 0, 11, 10}, 0.9, 1}, {"1", {-2, 0, 8, 10}, 0.8, 1}};
  EXPECT_NEAR(box_iou({2, 0, 11, 10}, {2, 0, 12, 10}), 0.9, 1e-12);
  const DetectionRates rates(set);
  expect_point(rates.at(0.8), 0.8, 1.0, 0.0);
  expect_point(rates.at(0.9), 0.9, 0.5, 0.0);
}

TEST(DetectionRates, IgnoredRegionsAreNeitherFoundNorFalsePositives) {
  EvalSet set;
  set.image_ids = {"1"};
  set.ground_truths = {gt("1", {0, 0, 10, 10}), gt("1", {50, 50, 90, 90})};
  set.ground_truths[1].iscrowd = true;
  set.detections = {{"1", {60, 60, 70, 70}, 0.9, 1}, {"1", {0, 0, 10, 10}, 0.8, 1}};
  const DetectionRates rates(set);
  EXPECT_EQ(rates.num_masses(), 1);
  expect_point(rates.at(0.8), 0.8, 1.0, 0.0);
}

TEST(DetectionRates, NothingUnderTheCap) {
  EvalSet set;
  set.image_ids = {"1"};
  set.ground_truths = {gt("1", {0, 0, 10, 10})};
  set.detections = {{"1", {50, 50, 60, 60}, 0.9, 1}, {"1", {0, 0, 10, 10}, 0.8, 1}};
  const OperatingPoint p = DetectionRates(set).best_under(0.5);
  EXPECT_TRUE(std::isinf(p.score_thr));
  // The FP at 0.9 is under no cap below 1, and finds nothing: no rule takes it.
  EXPECT_TRUE(std::isinf(DetectionRates(set).best_under(0.5, ThresholdRule::kLowest).score_thr));
  EXPECT_TRUE(std::isinf(DetectionRates(set).best_under(0.5, ThresholdRule::kMiddle).score_thr));
  EXPECT_EQ(p.tpr, 0.0);
  EXPECT_EQ(p.fppi, 0.0);
  EXPECT_EQ(DetectionRates(set).sensitivity_at(0.5), 0.0);
}

TEST(DetectionRates, NoMassesGiveMinusOne) {
  EvalSet set;
  set.image_ids = {"1"};
  set.detections = {{"1", {50, 50, 60, 60}, 0.9, 1}};
  const DetectionRates rates(set);
  EXPECT_EQ(rates.at(0.5).tpr, -1.0);
  EXPECT_EQ(rates.at(0.5).fppi, 1.0);
  EXPECT_EQ(rates.cpm(), -1.0);
}

TEST(DetectionRates, HitRuleNames) {
  EXPECT_EQ(parse_hit_rule("iou"), HitRule::kIou);
  EXPECT_EQ(parse_hit_rule("center"), HitRule::kCenter);
  EXPECT_EQ(to_string(HitRule::kCenter), "center");
  EXPECT_THROW(parse_hit_rule("centre"), Error);
  EXPECT_THROW(DetectionRates(sample(), {HitRule::kIou, 0.0, true}), Error);
}

}  // namespace
}  // namespace mbmd::engine
