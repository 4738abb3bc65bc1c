// evaluate(): the whole set of metrics on the hand-built files, its JSON and its table.
#include "mbmd/eval/evaluate.h"

#include <gtest/gtest.h>

#include <cmath>

#include "mbmd/core/config.h"
#include "mbmd/core/error.h"
#include "mbmd/eval/coco_io.h"
#include "mbmd_paths.h"

namespace mbmd::engine {
namespace {

// tests/fixtures/eval/hand_ranked_*.json (coco_eval_test.cpp describes them). The lesion-level
// outcomes with the IoU >= 0.5 rule, best first: 0.9 TP (a1), 0.8 TP (b1, IoU exactly 0.5), 0.7
// FP (normal image), 0.6 neither (a1 again), 0.5 TP (c1), 0.4 FP (IoU 0.444 with a2). 4 masses,
// 4 images. FROC: (0, 1/4) (0, 2/4) (1/4, 2/4) (1/4, 2/4) (1/4, 3/4) (2/4, 3/4).
EvalSet hand_ranked() {
  const std::string dir = std::string(MBMD_SOURCE_DIR) + "/tests/fixtures/eval/";
  EvalSet set = read_coco_ground_truth(dir + "hand_ranked_gt.json");
  set.detections = read_coco_results(dir + "hand_ranked_dets.json", set);
  return set;
}

TEST(Evaluate, HandRankedDefaults) {
  const EvalResult r = evaluate(hand_ranked());
  ASSERT_EQ(r.ap.size(), 3u);
  EXPECT_NEAR(r.ap[0].second, 253.0 / 303, 1e-12);
  EXPECT_NEAR(r.ap[1].second, 66.0 / 101, 1e-12);
  EXPECT_NEAR(r.ap[2].second, 36.0 / 101, 1e-12);
  EXPECT_NEAR(r.ap50_small, 51.0 / 101, 1e-12);
  EXPECT_NEAR(r.ap50_medium, 1.0, 1e-12);
  EXPECT_NEAR(r.ap50_large, 1.0, 1e-12);
  // Best TPR at FPPI <= 1: 3/4 from 0.5 on (0.4 ties, lower): FPPI 1/4.
  EXPECT_TRUE(r.score_thr_chosen);
  EXPECT_DOUBLE_EQ(r.operating_point.score_thr, 0.5);
  EXPECT_NEAR(r.operating_point.tpr, 0.75, 1e-12);
  EXPECT_NEAR(r.operating_point.fppi, 0.25, 1e-12);
  ASSERT_EQ(r.froc.size(), 6u);
  EXPECT_NEAR(r.froc[5].fppi, 0.5, 1e-12);
  // Sensitivity 1/2 at 1/8 FPPI, 3/4 at 1/4 and beyond: CPM = (1/2 + 6 * 3/4) / 7 = 5/7.
  ASSERT_EQ(r.sensitivity_at.size(), 7u);
  EXPECT_NEAR(r.sensitivity_at[0].second, 0.5, 1e-12);
  EXPECT_NEAR(r.sensitivity_at[1].second, 0.75, 1e-12);
  EXPECT_NEAR(r.cpm, 5.0 / 7, 1e-12);
  EXPECT_EQ(r.num_images, 4);
  EXPECT_EQ(r.num_masses, 4);
  EXPECT_EQ(r.num_detections, 6);
}

TEST(Evaluate, GivenThresholdCenterRuleAndNoNormals) {
  EvalOptions options;
  options.score_thr = 0.45;
  EvalResult r = evaluate(hand_ranked(), options);
  EXPECT_FALSE(r.score_thr_chosen);
  EXPECT_NEAR(r.operating_point.tpr, 0.75, 1e-12);
  EXPECT_NEAR(r.operating_point.fppi, 0.25, 1e-12);
  // Centre rule: the 0.4 box's centre (27.5, 27.5) lies in a2: every mass found at 0.4.
  options = {};
  options.hit = HitRule::kCenter;
  r = evaluate(hand_ranked(), options);
  EXPECT_DOUBLE_EQ(r.operating_point.score_thr, 0.4);
  EXPECT_NEAR(r.operating_point.tpr, 1.0, 1e-12);
  EXPECT_NEAR(r.operating_point.fppi, 0.25, 1e-12);
  // Without the normal image: 3 images, and its FP is gone: TPR 3/4 at FPPI 0 (0.5).
  options = {};
  options.count_normals = false;
  r = evaluate(hand_ranked(), options);
  EXPECT_EQ(r.num_images, 3);
  EXPECT_DOUBLE_EQ(r.operating_point.score_thr, 0.5);
  EXPECT_NEAR(r.operating_point.fppi, 0.0, 1e-12);
  EXPECT_NEAR(r.froc.back().fppi, 1.0 / 3, 1e-12);
}

TEST(Evaluate, AP50PerAreaEvenWithout50AmongThresholds) {
  EvalOptions options;
  options.iou_thrs = {0.75};
  const EvalResult r = evaluate(hand_ranked(), options);
  ASSERT_EQ(r.ap.size(), 1u);
  EXPECT_NEAR(r.ap[0].second, 36.0 / 101, 1e-12);
  EXPECT_NEAR(r.ap50_small, 51.0 / 101, 1e-12);
}

TEST(Evaluate, Json) {
  EvalOptions options;
  options.fppi_cap = 0.1;  // only the first two points: TPR 1/2 at 0.8
  const nlohmann::json j = to_json(evaluate(hand_ranked(), options));
  EXPECT_NEAR(j.at("ap").at("0.5").get<double>(), 66.0 / 101, 1e-12);
  EXPECT_NEAR(j.at("ap").at("0.2").get<double>(), 253.0 / 303, 1e-12);
  EXPECT_NEAR(j.at("ap").at("0.75").get<double>(), 36.0 / 101, 1e-12);
  EXPECT_NEAR(j.at("ap50_small").get<double>(), 51.0 / 101, 1e-12);
  EXPECT_NEAR(j.at("tpr").get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(j.at("fppi").get<double>(), 0.0, 1e-12);
  EXPECT_NEAR(j.at("score_thr").get<double>(), 0.8, 1e-12);
  ASSERT_EQ(j.at("froc").size(), 6u);
  EXPECT_NEAR(j.at("froc")[4][0].get<double>(), 0.25, 1e-12);
  EXPECT_NEAR(j.at("froc")[4][1].get<double>(), 0.75, 1e-12);
  EXPECT_NEAR(j.at("froc_score_thrs")[4].get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(j.at("sensitivity_at").at("0.125").get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(j.at("sensitivity_at").at("8").get<double>(), 0.75, 1e-12);
  EXPECT_NEAR(j.at("cpm").get<double>(), 5.0 / 7, 1e-12);
  EXPECT_EQ(j.at("hit"), "iou");
  EXPECT_EQ(j.at("threshold_rule"), "highest");
}

TEST(Evaluate, NoThresholdUnderTheCapIsNullInJson) {
  EvalSet set;
  set.image_ids = {"1"};
  GroundTruth g;
  g.image_id = "1";
  g.box = {0, 0, 10, 10};
  set.ground_truths = {g};
  set.detections = {{"1", {50, 50, 60, 60}, 0.9, 1}};
  EvalOptions options;
  options.fppi_cap = 0.5;
  const EvalResult r = evaluate(set, options);
  EXPECT_TRUE(std::isinf(r.operating_point.score_thr));
  EXPECT_TRUE(to_json(r).at("score_thr").is_null());
  EXPECT_NE(format_table(r).find("score threshold none"), std::string::npos);
}

TEST(Evaluate, Table) {
  const std::string table = format_table(evaluate(hand_ranked()));
  EXPECT_NE(table.find("0.6535"), std::string::npos) << table;  // AP@50 = 66/101
  EXPECT_NE(table.find("0.8350"), std::string::npos) << table;  // AP@20 = 253/303
  EXPECT_NE(table.find("0.5050 / 1.0000 / 1.0000"), std::string::npos) << table;
  EXPECT_NE(table.find("0.7143"), std::string::npos) << table;  // CPM = 5/7
  EXPECT_NE(table.find("3 of 4 masses"), std::string::npos) << table;
}

TEST(Evaluate, OptionsFromConfig) {
  const EvalOptions defaults = eval_options_from_config(default_config().at("eval"));
  EXPECT_EQ(defaults.iou_thrs, (std::vector<double>{0.2, 0.5, 0.75}));
  EXPECT_EQ(defaults.hit, HitRule::kIou);
  EXPECT_EQ(defaults.hit_iou, 0.5);
  EXPECT_FALSE(defaults.score_thr.has_value());  // -1: chosen on the FROC
  EXPECT_EQ(defaults.fppi_cap, 1.0);
  EXPECT_TRUE(defaults.count_normals);
  const EvalOptions set = eval_options_from_config(nlohmann::json::parse(
      R"({"iou_thrs": [0.3], "hit": "center", "score_thr": 0.4, "count_normals": false})"));
  EXPECT_EQ(set.iou_thrs, (std::vector<double>{0.3}));
  EXPECT_EQ(set.hit, HitRule::kCenter);
  EXPECT_EQ(set.score_thr, 0.4);
  EXPECT_FALSE(set.count_normals);
  EXPECT_THROW(eval_options_from_config(nlohmann::json::parse(R"({"hit": "box"})")), Error);
  EXPECT_THROW(eval_options_from_config(nlohmann::json::parse(R"({"fppi_cap": "1"})")), Error);
}

TEST(Evaluate, ThresholdRuleFromConfig) {
  EXPECT_EQ(eval_options_from_config(default_config().at("eval")).threshold_rule,
            ThresholdRule::kHighest);
  EXPECT_EQ(eval_options_from_config(nlohmann::json::parse(R"({"threshold_rule": "middle"})"))
                .threshold_rule,
            ThresholdRule::kMiddle);
  for (const char* bad : {R"({"threshold_rule": "median"})", R"({"threshold_rule": 1})"}) {
    try {
      eval_options_from_config(nlohmann::json::parse(bad));
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("eval.threshold_rule"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace mbmd::engine
