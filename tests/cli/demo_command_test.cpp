// `mbmd demo --quick` end to end (phantom, training, evaluation, prediction, report) and its
// refusals: a work dir that is a file, one that already holds a demo, an empty phantom, a bad
// --data.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/run_mbmd.h"
#include "mbmd_paths.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;

using mbmd::testing::ProgramRun;
using mbmd::testing::run_mbmd;

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class DemoCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(MBMD_BINARY)) GTEST_FAIL() << MBMD_BINARY << " is missing: build mbmd first";
    root_ = mbmd::testing::fresh_test_dir("mbmd_demo_cli_");
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST_F(DemoCommand, QuickRunsEveryStage) {
  const fs::path dir = root_ / "demo";
  const ProgramRun r = run_mbmd("demo --quick --threads 2 --work-dir '" + dir.string() + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* stage : {"1/5", "2/5", "3/5", "4/5", "5/5"})
    EXPECT_NE(r.output.find(stage), std::string::npos) << stage << "\n" << r.output;
  EXPECT_NE(r.output.find("report: "), std::string::npos);
  // 10 patients, 20 films; the split and the run.
  EXPECT_TRUE(fs::exists(dir / "data" / "phantom.json"));
  EXPECT_TRUE(fs::exists(dir / "split.json"));
  for (const char* f : {"best.ckpt", "last.ckpt", "log.jsonl", "test_metrics.json", "report.html"})
    EXPECT_TRUE(fs::exists(dir / "run" / f)) << f;
  std::ifstream metrics_in(dir / "run" / "test_metrics.json");
  const auto test = nlohmann::json::parse(metrics_in);
  const size_t test_films = test["num_images"].get<size_t>();
  EXPECT_GT(test_films, 0u);
  std::ifstream dets_in(dir / "predictions" / "test_dets.json");
  EXPECT_TRUE(nlohmann::json::parse(dets_in).is_array());
  size_t overlays = 0;
  for (const auto& e : fs::directory_iterator(dir / "predictions" / "overlays"))
    overlays += e.path().extension() == ".png";
  EXPECT_EQ(overlays, test_films);

  const std::string html = slurp(dir / "report.html");
  EXPECT_NE(html.find("<table>"), std::string::npos);
  EXPECT_NE(html.find("<td>AP@50</td>"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("Training losses"), std::string::npos);
  EXPECT_NE(html.find("Learning rate"), std::string::npos);
  EXPECT_NE(html.find("FROC"), std::string::npos);
  EXPECT_NE(html.find("synthetic phantom"), std::string::npos);

  // Again into the same folder: refused, the report untouched.
  const auto stamp = fs::last_write_time(dir / "report.html");
  const ProgramRun again = run_mbmd("demo --quick --work-dir '" + dir.string() + "'");
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.output.find("already holds a demo run"), std::string::npos) << again.output;
  EXPECT_EQ(fs::last_write_time(dir / "report.html"), stamp);
}

TEST_F(DemoCommand, BadInputFailsWithAMessage) {
  const fs::path file = root_ / "a_file";
  std::ofstream(file) << "x";
  ProgramRun r = run_mbmd("demo --quick --work-dir '" + file.string() + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("is a file"), std::string::npos) << r.output;
  const std::string dir = " --work-dir '" + (root_ / "d").string() + "'";
  r = run_mbmd("demo --quick --patients 0" + dir);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("patients"), std::string::npos) << r.output;
  r = run_mbmd("demo --quick --data inbreast" + dir);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--data"), std::string::npos) << r.output;
  r = run_mbmd("demo --quick --data mias" + dir);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--root"), std::string::npos) << r.output;
  r = run_mbmd("demo --quick --data mias --root '" + (root_ / "nothing").string() + "'" + dir);
  EXPECT_EQ(r.status, 1);
  r = run_mbmd("demo --quick --film-size 96" + dir);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--film-size"), std::string::npos) << r.output;
  r = run_mbmd("demo --quick --frobnicate" + dir);
  EXPECT_NE(r.status, 0);
}

}  // namespace
