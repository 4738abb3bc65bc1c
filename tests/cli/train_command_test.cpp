// `mbmd train` end to end on the tiny synthetic set: a run writes its files; bad input (a work
// dir that is a file, an unknown key, an empty dataset, an unreadable checkpoint) and a
// non-finite loss give a clear message and a non-zero exit, and nothing is overwritten.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/run_mbmd.h"
#include "mbmd_paths.h"
#include "synthetic_set.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;

using mbmd::testing::ProgramRun;
using mbmd::testing::run_mbmd;

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class TrainCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(MBMD_BINARY)) GTEST_FAIL() << MBMD_BINARY << " is missing: build mbmd first";
    root_ = mbmd::testing::fresh_test_dir("mbmd_train_cmd_");
    const auto ann = mbmd::testing::write_synthetic_set((root_ / "data").string(), 4);
    // The tiny config as a file, as a user would give it.
    config_ = (root_ / "tiny.json").string();
    std::ofstream(config_) << mbmd::testing::tiny_config(ann).dump(2);
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string path(const std::string& name) const { return (root_ / name).string(); }
  std::string train(const std::string& work_dir, const std::string& extra = "") const {
    return "train --quiet --config '" + config_ + "' --work-dir '" + work_dir + "' " + extra;
  }

  fs::path root_;
  std::string config_;
};

TEST_F(TrainCommand, WritesConfigLogAndCheckpoints) {
  const ProgramRun r = run_mbmd(train(path("run"), "--set train.epochs=1 --threads 2"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("best checkpoint"), std::string::npos) << r.output;
  for (const char* file : {"config.json", "log.jsonl", "last.ckpt", "best.ckpt"})
    EXPECT_TRUE(fs::exists(path("run") + "/" + file)) << file;
  const auto config = nlohmann::json::parse(slurp(path("run") + "/config.json"));
  EXPECT_EQ(config.at("train").at("epochs"), 1);
  EXPECT_EQ(config.at("runtime").at("threads"), 2);
  std::ifstream log(path("run") + "/log.jsonl");
  int steps = 0, validations = 0, coverages = 0;
  for (std::string line; std::getline(log, line);) {
    const auto entry = nlohmann::json::parse(line);
    if (entry.at("type") == "anchor_coverage") {
      ++coverages;
      EXPECT_GT(entry.at("boxes").get<int>(), 0) << line;
      EXPECT_LE(entry.at("covered").get<int>(), entry.at("boxes").get<int>()) << line;
    } else if (entry.at("type") == "train") {
      ++steps;
      for (const char* key : {"iter", "epoch", "lr", "loss", "loss_rpn_cls", "loss_rpn_bbox",
                              "loss_cls", "loss_bbox", "time"})
        EXPECT_TRUE(entry.contains(key)) << key << " missing in " << line;
    } else if (entry.at("type") == "val") {
      ++validations;
      EXPECT_TRUE(entry.at("metrics").at("ap").contains("0.5")) << line;
    }
  }
  EXPECT_EQ(steps, 2);
  EXPECT_EQ(validations, 1);
  EXPECT_EQ(coverages, 1);  // measured once, at the start

  // A second start in the same dir is refused and leaves the run alone; --resume of a finished
  // run does nothing more.
  const std::string before = slurp(path("run") + "/last.ckpt");
  const ProgramRun again = run_mbmd(train(path("run"), "--set train.epochs=1"));
  EXPECT_NE(again.status, 0);
  EXPECT_NE(again.output.find("--resume"), std::string::npos) << again.output;
  EXPECT_EQ(slurp(path("run") + "/last.ckpt"), before);
}

TEST_F(TrainCommand, BadInputFailsWithAMessageAndWritesNothing) {
  std::ofstream(path("file")) << "x";
  ProgramRun r = run_mbmd(train(path("file")));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("is a file"), std::string::npos) << r.output;
  EXPECT_EQ(slurp(path("file")), "x");

  r = run_mbmd(train(path("w1"), "--set train.no_such_key=1"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("unknown config key 'train.no_such_key'"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(path("w1")));

  // An empty dataset: a COCO file without images.
  std::ofstream(path("empty.json"))
      << R"({"images": [], "annotations": [], "categories": [{"id": 1, "name": "mass"}]})";
  r = run_mbmd(train(path("w2"), "--set data.ann_file=" + path("empty.json")));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("training set is empty"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(path("w2")));

  // An unreadable checkpoint to resume from is named and left as it was.
  fs::create_directories(path("w3"));
  std::ofstream(path("w3") + "/last.ckpt") << "garbage, not a zip";
  r = run_mbmd(train(path("w3"), "--resume"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("last.ckpt"), std::string::npos) << r.output;
  EXPECT_EQ(slurp(path("w3") + "/last.ckpt"), "garbage, not a zip");
  EXPECT_FALSE(fs::exists(path("w3") + "/config.json"));

  r = run_mbmd(train(path("w4"), "--resume"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("does not exist"), std::string::npos) << r.output;

  r = run_mbmd("train --work-dir '" + path("w5") + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--config"), std::string::npos) << r.output;
  r = run_mbmd(train(path("w6"), "--bogus"));
  EXPECT_NE(r.status, 0);
}

TEST_F(TrainCommand, NonFiniteLossStopsWithNonZeroExit) {
  const ProgramRun r =
      run_mbmd(train(path("nan"), "--set train.lr=1e30 --set train.warmup_iters=0"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("training stopped: the loss is"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(path("nan") + "/last.ckpt"));
}

}  // namespace
