// `mbmd compare A B` on the hand-built COCO files of the eval tests: B finds a mass that A missed,
// so B - A is positive; identical inputs differ by nothing; bad input is named.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/run_mbmd.h"
#include "mbmd_paths.h"

namespace {

namespace fs = std::filesystem;
using mbmd::testing::ProgramRun;
using mbmd::testing::run_mbmd;

const std::string kFixtures = std::string(MBMD_SOURCE_DIR) + "/tests/fixtures/eval/";
const std::string kGt = kFixtures + "hand_ranked_gt.json";
const std::string kDets = kFixtures + "hand_ranked_dets.json";

class CompareCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(MBMD_BINARY)) GTEST_FAIL() << MBMD_BINARY << " is missing: build mbmd first";
    root_ = fs::temp_directory_path() / ("mbmd_compare_" + std::to_string(::getpid()));
    fs::create_directories(root_);
    // B: A's results plus a confident hit on every ground-truth box (all found).
    std::ifstream gt_in(kGt), dets_in(kDets);
    const auto gt = nlohmann::json::parse(gt_in);
    auto better = nlohmann::json::parse(dets_in);
    for (const auto& a : gt["annotations"])
      better.push_back({{"image_id", a["image_id"]},
                        {"category_id", a["category_id"]},
                        {"bbox", a["bbox"]},
                        {"score", 0.99}});
    std::ofstream(root_ / "better.json") << better.dump();
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST_F(CompareCommand, FindingMoreIsAPositiveDifferenceWithItsInterval) {
  const ProgramRun r = run_mbmd("compare --gt '" + kGt + "' '" + kDets + "' '" +
                                    (root_ / "better.json").string() + "' --bootstrap 200 --json",
                                false);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  const auto& tpr = j["metrics"]["tpr"];
  EXPECT_DOUBLE_EQ(tpr["a"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(tpr["b"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(tpr["difference"].get<double>(), 0.25);
  EXPECT_GE(tpr["low"].get<double>(), 0.0);
  EXPECT_GT(j["metrics"]["cpm"]["difference"].get<double>(), 0.0);
  EXPECT_EQ(j["resamples"], 200);

  const ProgramRun table = run_mbmd("compare --gt '" + kGt + "' '" + kDets + "' '" + kDets +
                                    "' --bootstrap 20 --metrics ap50,cpm");
  ASSERT_EQ(table.status, 0) << table.output;
  EXPECT_NE(table.output.find("CPM"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("+0.0000  [+0.0000, +0.0000]"), std::string::npos) << table.output;
  EXPECT_EQ(table.output.find("TPR"), std::string::npos);  // only the metrics asked for
}

TEST_F(CompareCommand, BadInputIsNamed) {
  ProgramRun r = run_mbmd("compare '" + kDets + "' '" + kDets + "'");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--gt"), std::string::npos) << r.output;
  r = run_mbmd("compare --gt '" + kGt + "' '" + kDets + "' missing.json");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("missing.json"), std::string::npos) << r.output;
  r = run_mbmd("compare '" + root_.string() + "' '" + root_.string() + "'");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("not a finished `mbmd cv` run"), std::string::npos) << r.output;
  r = run_mbmd("compare --gt '" + kGt + "' '" + kDets + "' '" + kDets + "' --metrics ap0");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("ap0"), std::string::npos) << r.output;
}

}  // namespace
