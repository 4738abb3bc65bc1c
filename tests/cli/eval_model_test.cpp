// `mbmd eval --checkpoint`: the paper's metrics for a trained model on a part of its dataset or
// on a COCO file, with the same fields as `mbmd eval --gt --dets`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/eval_json.h"
#include "cli/run_mbmd.h"
#include "mbmd/model/detector.h"
#include "mbmd/train/checkpointing.h"
#include "mbmd_paths.h"
#include "synthetic_set.h"

namespace {

namespace fs = std::filesystem;

using mbmd::testing::ProgramRun;
using mbmd::testing::run_mbmd;

class EvalModel : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(MBMD_BINARY)) GTEST_FAIL() << MBMD_BINARY << " is missing: build mbmd first";
    root_ = fs::temp_directory_path() / ("mbmd_eval_model_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    ann_ = mbmd::testing::write_synthetic_set((root_ / "images").string(), 3);
    mbmd::Json config = mbmd::testing::tiny_config(ann_);
    mbmd::apply_overrides(config, {"model.roi.test.score_thr=0.0"});
    at::manual_seed(0);
    mbmd::model::FasterRCNN detector(mbmd::model::detector_options_from_config(config));
    checkpoint_ = (root_ / "model.ckpt").string();
    mbmd::engine::save_training_checkpoint(checkpoint_, *detector, nullptr, {}, config);
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path root_;
  std::string ann_, checkpoint_;
};

TEST_F(EvalModel, ReportsThePaperMetricsForAPartAndAFile) {
  for (const std::string& split : std::vector<std::string>{"test", ann_}) {
    const ProgramRun r = run_mbmd("eval --checkpoint '" + checkpoint_ + "' --split '" + split +
                                  "' --hit center --json");
    ASSERT_EQ(r.status, 0) << r.output;
    const auto json = mbmd::testing::eval_json(r.output);
    ASSERT_TRUE(json.is_object());
    EXPECT_NE(r.output.find("on 3 images"), std::string::npos) << r.output;
  }
}

TEST_F(EvalModel, BadInputIsAClearError) {
  ProgramRun r = run_mbmd("eval --checkpoint '" + (root_ / "missing.ckpt").string() + "'");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("missing.ckpt"), std::string::npos) << r.output;
  r = run_mbmd("eval --checkpoint '" + checkpoint_ + "' --split '" +
               (root_ / "nope.json").string() + "'");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("nope.json"), std::string::npos) << r.output;
  r = run_mbmd("eval --checkpoint '" + checkpoint_ + "' --gt '" + ann_ + "'");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--gt"), std::string::npos) << r.output;
}

}  // namespace
