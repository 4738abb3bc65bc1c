// `mbmd eval --gt --dets` end to end: the program on the hand-built COCO files, whose numbers are
// worked out in tests/eval/coco_eval_test.cpp and tests/eval/evaluate_test.cpp.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/run_mbmd.h"
#include "mbmd_paths.h"

namespace {

using mbmd::testing::ProgramRun;

// Standard output alone unless merge_stderr: the JSON tests parse it.
ProgramRun run(const std::string& args, bool merge_stderr = false) {
  return mbmd::testing::run_mbmd(args, merge_stderr);
}

const std::string kFixtures = std::string(MBMD_SOURCE_DIR) + "/tests/fixtures/eval/";
const std::string kFiles =
    "--gt '" + kFixtures + "hand_ranked_gt.json' --dets '" + kFixtures + "hand_ranked_dets.json'";

class EvalCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(MBMD_BINARY))
      GTEST_FAIL() << MBMD_BINARY << " is missing: build the mbmd target first";
  }
};

TEST_F(EvalCommand, JsonOnHandBuiltFiles) {
  const ProgramRun r = run("eval " + kFiles + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output);
  EXPECT_NEAR(j.at("ap").at("0.2").get<double>(), 253.0 / 303, 1e-12);
  EXPECT_NEAR(j.at("ap").at("0.5").get<double>(), 66.0 / 101, 1e-12);
  EXPECT_NEAR(j.at("ap").at("0.75").get<double>(), 36.0 / 101, 1e-12);
  EXPECT_NEAR(j.at("ap50_small").get<double>(), 51.0 / 101, 1e-12);
  EXPECT_NEAR(j.at("ap50_medium").get<double>(), 1.0, 1e-12);
  EXPECT_NEAR(j.at("ap50_large").get<double>(), 1.0, 1e-12);
  EXPECT_NEAR(j.at("tpr").get<double>(), 0.75, 1e-12);
  EXPECT_NEAR(j.at("fppi").get<double>(), 0.25, 1e-12);
  EXPECT_NEAR(j.at("score_thr").get<double>(), 0.5, 1e-12);
  ASSERT_EQ(j.at("froc").size(), 6u);
  EXPECT_NEAR(j.at("froc")[1][1].get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(j.at("sensitivity_at").at("0.125").get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(j.at("cpm").get<double>(), 5.0 / 7, 1e-12);
}

// --bootstrap adds patient-level intervals around the same values, the same for the same seed.
TEST_F(EvalCommand, BootstrapIntervals) {
  const ProgramRun r = run("eval " + kFiles + " --json --bootstrap 100 --seed 3");
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output);
  const auto& b = j.at("bootstrap");
  EXPECT_EQ(b.at("resamples"), 100);
  const auto& tpr = b.at("metrics").at("tpr");
  EXPECT_NEAR(tpr.at("value").get<double>(), 0.75, 1e-12);
  EXPECT_LE(tpr.at("low").get<double>(), 0.75);
  EXPECT_GE(tpr.at("high").get<double>(), 0.75);
  EXPECT_TRUE(b.at("metrics").contains("ap20"));
  EXPECT_TRUE(b.at("metrics").contains("sens@0.5"));
  // The FROC's band on the grid, from the same resamples: at 1/2 FPPI it is sens@0.5's interval.
  const auto& band = b.at("froc_band");
  ASSERT_EQ(band.size(), 25u);
  EXPECT_EQ(band[8].at("fppi"), 0.5);
  EXPECT_EQ(band[8].at("low"), b.at("metrics").at("sens@0.5").at("low"));
  EXPECT_EQ(band[8].at("high"), b.at("metrics").at("sens@0.5").at("high"));
  EXPECT_EQ(run("eval " + kFiles + " --json --bootstrap 100 --seed 3").output, r.output);
  const ProgramRun table = run("eval " + kFiles + " --bootstrap 20");
  EXPECT_NE(table.output.find("95% confidence intervals"), std::string::npos) << table.output;
  EXPECT_EQ(run("eval " + kFiles + " --bootstrap -1", true).status, 1);
}

TEST_F(EvalCommand, Options) {
  ProgramRun r = run("eval " + kFiles + " --json --iou-thrs 0.75 --hit center --score-thr 0.45");
  ASSERT_EQ(r.status, 0) << r.output;
  nlohmann::json j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j.at("ap").size(), 1u);
  EXPECT_NEAR(j.at("ap").at("0.75").get<double>(), 36.0 / 101, 1e-12);
  // Centre rule at 0.45: a1, b1 and c1 found; the 0.7 box on the normal image is the one FP.
  EXPECT_NEAR(j.at("tpr").get<double>(), 0.75, 1e-12);
  EXPECT_NEAR(j.at("fppi").get<double>(), 0.25, 1e-12);
  EXPECT_EQ(j.at("hit"), "center");
  r = run("eval " + kFiles + " --json --exclude-normals --iou 0.4");
  ASSERT_EQ(r.status, 0) << r.output;
  j = nlohmann::json::parse(r.output);
  // IoU >= 0.4 finds a2 with the 0.4 box (IoU 0.444); 3 images: TPR 1 at FPPI 0.
  EXPECT_EQ(j.at("num_images"), 3);
  EXPECT_NEAR(j.at("tpr").get<double>(), 1.0, 1e-12);
  EXPECT_NEAR(j.at("fppi").get<double>(), 0.0, 1e-12);
  // At FPPI <= 0.5 the thresholds 0.5 and 0.4 both reach TPR 3/4: highest takes 0.5, lowest 0.4.
  r = run("eval " + kFiles + " --json --fppi-cap 0.5 --threshold-rule lowest");
  ASSERT_EQ(r.status, 0) << r.output;
  j = nlohmann::json::parse(r.output);
  EXPECT_NEAR(j.at("score_thr").get<double>(), 0.4, 1e-12);
  EXPECT_NEAR(j.at("tpr").get<double>(), 0.75, 1e-12);
  EXPECT_NEAR(j.at("fppi").get<double>(), 0.5, 1e-12);
  EXPECT_EQ(j.at("threshold_rule"), "lowest");
  j = nlohmann::json::parse(run("eval " + kFiles + " --json --fppi-cap 0.5").output);
  EXPECT_NEAR(j.at("score_thr").get<double>(), 0.5, 1e-12);
}

TEST_F(EvalCommand, Table) {
  const ProgramRun r = run("eval " + kFiles);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("0.6535"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("CPM"), std::string::npos) << r.output;
}

TEST_F(EvalCommand, BadInput) {
  ProgramRun r = run("eval --gt '" + kFixtures + "hand_ranked_gt.json'", true);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--dets"), std::string::npos) << r.output;
  r = run("eval " + kFiles + " --hit box", true);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("unknown hit rule 'box'"), std::string::npos) << r.output;
  r = run("eval " + kFiles + " --threshold-rule median", true);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("option --threshold-rule: unknown threshold rule 'median'"),
            std::string::npos)
      << r.output;
  r = run("eval " + kFiles + " --iou-thrs 0.5,x", true);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--iou-thrs"), std::string::npos) << r.output;
  r = run("eval " + kFiles + " --frobnicate", true);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("unknown option --frobnicate"), std::string::npos) << r.output;
  // Ground truth given as results: not a list.
  r = run("eval --gt '" + kFixtures + "hand_ranked_gt.json' --dets '" + kFixtures +
              "hand_ranked_gt.json'",
          true);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("hand_ranked_gt.json: a COCO results file must be a list"),
            std::string::npos)
      << r.output;
}

}  // namespace
