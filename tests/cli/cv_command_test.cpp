// `mbmd cv` end to end: two folds of a tiny phantom through the program, the summary on stdout
// and in files, two repeats with their summary over the repeats, and bad input refused with a
// message and a non-zero exit.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "cli/run_mbmd.h"
#include "mbmd/data/synthetic/phantom.h"
#include "mbmd_paths.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;

using mbmd::testing::ProgramRun;
using mbmd::testing::run_mbmd;

class CvCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(MBMD_BINARY)) GTEST_FAIL() << MBMD_BINARY << " is missing: build mbmd first";
    root_ = mbmd::testing::fresh_test_dir("mbmd_cv_cli_");
    mbmd::data::PhantomOptions o;
    o.patients = 10;
    o.width = 96;
    o.height = 128;
    ann_ = mbmd::data::write_phantom(o, (root_ / "data").string());
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string data_args() const {
    return "--config demo_quick --set data.dataset=coco --set 'data.ann_file=" + ann_ +
           "' --threads 2 --quiet";
  }

  fs::path root_;
  std::string ann_;
};

TEST_F(CvCommand, TwoFoldsPrintAndWriteTheSummary) {
  const std::string dir = (root_ / "cv").string();
  const ProgramRun r =
      run_mbmd("cv " + data_args() + " --work-dir '" + dir +
               "' --folds 2 --metrics ap20,ap50,tpr,cpm --set model.roi.test.score_thr=0.0");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("| metric | fold 0 | fold 1 | mean (std) |"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("| AP@20 |"), std::string::npos);
  EXPECT_NE(r.output.find("| TPR |"), std::string::npos);
  const std::string summary_table = r.output.substr(0, r.output.find("test-time variants"));
  EXPECT_EQ(summary_table.find("| FPPI |"), std::string::npos);  // only the metrics asked for
  std::ifstream in(root_ / "cv" / "summary.json");
  const auto summary = nlohmann::json::parse(in);
  EXPECT_EQ(summary["metrics"], (nlohmann::json{"ap20", "ap50", "tpr", "cpm"}));
  EXPECT_EQ(summary["folds"].size(), 2u);
  EXPECT_EQ(summary["summary"]["ap50"]["values"].size(), 2u);
  for (const char* f : {"summary.md", "summary.csv", "report.html", "split.json",
                        "fold0/report.html", "fold1/test_metrics.json"})
    EXPECT_TRUE(fs::exists(root_ / "cv" / f)) << f;
  EXPECT_FALSE(fs::exists(root_ / "cv" / "repeat_0"));  // --repeats 1 (the default): no folder
  std::ifstream report_in(root_ / "cv" / "report.html");
  const std::string report((std::istreambuf_iterator<char>(report_in)),
                           std::istreambuf_iterator<char>());
  EXPECT_NE(report.find("Pooled test parts (each fold"), std::string::npos);  // the intervals

  // The pooled test parts: each test image once, the folds' results on its ids; a run compared
  // with itself differs by nothing.
  std::ifstream gt_in(root_ / "cv" / "test_gt.json"), dets_in(root_ / "cv" / "test_dets.json");
  const auto gt = nlohmann::json::parse(gt_in);
  const auto dets = nlohmann::json::parse(dets_in);
  int test_images = 0;
  for (const auto& fold : summary["folds"]) test_images += fold["test_images"].get<int>();
  EXPECT_EQ(gt["images"].size(), static_cast<size_t>(test_images));
  std::set<int64_t> ids;
  for (const auto& image : gt["images"]) ids.insert(image["id"].get<int64_t>());
  ASSERT_FALSE(dets.empty());
  for (const auto& d : dets) {
    EXPECT_TRUE(ids.count(d["image_id"].get<int64_t>())) << d.dump();
    EXPECT_TRUE(d["fold"] == 0 || d["fold"] == 1) << d.dump();
  }
  // Flip TTA and the best+last ensemble, each fold's own models on its own test part, compared
  // with the single models.
  for (const char* f :
       {"fold0/test_dets_flip.json", "fold1/test_dets_snapshot.json", "test_dets_flip.json",
        "test_dets_snapshot.json", "variants.md", "intervals.md", "intervals.json"})
    EXPECT_TRUE(fs::exists(root_ / "cv" / f)) << f;
  EXPECT_NE(r.output.find("| flip TTA | CPM |"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("95% confidence intervals (patient-level bootstrap"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("| best+last ensemble | AP@20 |"), std::string::npos) << r.output;
  const ProgramRun same =
      run_mbmd("compare '" + dir + "' '" + dir + "' --bootstrap 50 --json", false);
  ASSERT_EQ(same.status, 0) << same.output;
  const auto paired = nlohmann::json::parse(same.output);
  EXPECT_EQ(paired["metrics"]["ap50"]["difference"], 0.0) << same.output;

  // A second split file run: --split-file reads the parts written by the first run.
  const ProgramRun again =
      run_mbmd("cv " + data_args() + " --work-dir '" + (root_ / "cv2").string() +
               "' --folds 1 --split-file '" + dir + "/split.json'");
  ASSERT_EQ(again.status, 0) << again.output;
  std::ifstream a(root_ / "cv" / "split.json"), b(root_ / "cv2" / "split.json");
  EXPECT_EQ(nlohmann::json::parse(a)["parts"], nlohmann::json::parse(b)["parts"]);
}

TEST_F(CvCommand, RepeatsRunInTheirFoldersAndPrintTheSummaryOverThem) {
  const std::string dir = (root_ / "cv").string();
  const std::string command = "cv " + data_args() + " --work-dir '" + dir +
                              "' --folds 1 --repeats 2 --metrics ap50,cpm --overlays 0";
  const ProgramRun r = run_mbmd(command);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("cross-validation, 2 repeats of 1 folds"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("| metric | repeat 0 | repeat 1 | mean (sd) | min .. max | all folds, "
                          "mean (std) |"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("| CPM |"), std::string::npos) << r.output;
  for (const char* f :
       {"summary.md", "summary.csv", "summary.json", "report.html", "repeat_0/fold0/fold.json",
        "repeat_1/fold0/fold.json", "repeat_1/intervals.json"})
    EXPECT_TRUE(fs::exists(root_ / "cv" / f)) << f;
  std::ifstream a(root_ / "cv/repeat_0/split.json"), b(root_ / "cv/repeat_1/split.json");
  EXPECT_NE(nlohmann::json::parse(a)["parts"], nlohmann::json::parse(b)["parts"]);
  std::ifstream in(root_ / "cv" / "summary.json");
  const auto summary = nlohmann::json::parse(in);
  EXPECT_EQ(summary["summary"]["cpm"]["repeat_means"].size(), 2u);
  EXPECT_TRUE(summary["summary"]["cpm"].contains("sd"));
  // --resume with a finished run: both repeats kept, the same summary printed.
  const ProgramRun again = run_mbmd(command + " --resume");
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_EQ(again.output, r.output);
}

TEST_F(CvCommand, BadRepeatsFailWithAMessageNamingTheOption) {
  const std::string dir = " --work-dir '" + (root_ / "cv").string() + "' --folds 1";
  for (const char* bad : {"0", "-1", "1.5", "two"}) {
    const ProgramRun r = run_mbmd("cv " + data_args() + dir + " --repeats " + bad);
    EXPECT_EQ(r.status, 1) << bad;
    EXPECT_NE(r.output.find("--repeats"), std::string::npos) << bad << ": " << r.output;
  }
  const ProgramRun r = run_mbmd("cv " + data_args() + dir + " --repeats 2 --split-file x.json");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--split-file"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(root_ / "cv"));
}

TEST_F(CvCommand, BadInputFailsWithAMessage) {
  const fs::path file = root_ / "a_file";
  std::ofstream(file) << "x";
  ProgramRun r = run_mbmd("cv " + data_args() + " --work-dir '" + file.string() + "' --folds 2");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("is a file"), std::string::npos) << r.output;

  const std::string dir = "--work-dir '" + (root_ / "cv").string() + "'";
  r = run_mbmd("cv " + data_args() + " " + dir + " --folds 0");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--folds"), std::string::npos) << r.output;
  r = run_mbmd("cv " + data_args() + " " + dir + " --metrics ap50,f1");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("unknown metric 'f1'"), std::string::npos) << r.output;
  r = run_mbmd("cv " + data_args() + " " + dir + " --set model.neck.kind=fpn");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("model.neck.kind"), std::string::npos) << r.output;
  r = run_mbmd("cv " + data_args() + " " + dir + " --split-file '" + file.string() + "'");
  EXPECT_EQ(r.status, 1);
  r = run_mbmd("cv " + data_args() + " " + dir + " --fold 2");
  EXPECT_NE(r.status, 0);
  r = run_mbmd("cv --work-dir x");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--config"), std::string::npos) << r.output;
  r = run_mbmd("cv " + data_args() + " " + dir + " --set eval.variant=mirror");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("eval.variant"), std::string::npos) << r.output;
  r = run_mbmd("cv " + data_args() + " " + dir + " --set eval.threshold_rule=median");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("eval.threshold_rule"), std::string::npos) << r.output;
  r = run_mbmd("cv " + data_args() + " " + dir + " --set augment.copy_paste_max=0");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("augment.copy_paste_max"), std::string::npos) << r.output;
  r = run_mbmd("cv " + data_args() + " " + dir + " --reevaluate");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--resume"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(root_ / "cv"));
}

// A finished run evaluated again as another eval.variant: the folds' metrics and results are
// written anew from their checkpoints, nothing is trained, and the threshold comes from the
// variant's own validation detections. Without --reevaluate the changed key is refused.
TEST_F(CvCommand, ReevaluatesFinishedFoldsAsAnotherVariantWithoutTraining) {
  const std::string dir = (root_ / "cv").string();
  const std::string run = "cv " + data_args() + " --work-dir '" + dir +
                          "' --folds 2 --metrics ap50,tpr --set model.roi.test.score_thr=0.0 "
                          "--set eval.variant=single";
  ASSERT_EQ(run_mbmd(run).status, 0);
  const fs::path fold0 = root_ / "cv" / "fold0";
  const auto trained = fs::last_write_time(fold0 / "last.ckpt");
  const auto log_size = fs::file_size(fold0 / "log.jsonl");
  auto read = [](const fs::path& p) { return nlohmann::json::parse(std::ifstream(p)); };
  const auto single = read(fold0 / "test_dets.json");

  ProgramRun r = run_mbmd(run + " --resume --set eval.variant=flip+snapshot");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("eval.variant"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--reevaluate"), std::string::npos) << r.output;  // the way out

  // Evaluated again in a copy of the run: from and into the copy's own folders.
  const fs::path moved = root_ / "moved";
  fs::copy(root_ / "cv", moved, fs::copy_options::recursive);
  std::string again = run;
  again.replace(again.find(dir), dir.size(), moved.string());
  r = run_mbmd(again +
               " --resume --reevaluate --set eval.variant=flip+snapshot --set "
               "eval.threshold_rule=middle");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(fs::last_write_time(fold0 / "last.ckpt"), trained);
  EXPECT_EQ(fs::file_size(moved / "fold0" / "log.jsonl"), log_size);
  EXPECT_EQ(read(fold0 / "test_dets.json"), single);            // the original is untouched
  EXPECT_NE(read(moved / "fold0" / "test_dets.json"), single);  // four runs merged per film
  EXPECT_EQ(read(moved / "config.json")["eval"]["variant"], "flip+snapshot");
  std::ifstream report_in(moved / "fold0" / "report.html");
  const std::string report((std::istreambuf_iterator<char>(report_in)),
                           std::istreambuf_iterator<char>());
  EXPECT_NE(report.find("flip TTA"), std::string::npos);
  EXPECT_EQ(read(moved / "fold0" / "val_metrics.json")["threshold_rule"], "middle");
  std::ifstream cv_report_in(moved / "report.html");
  const std::string cv_report((std::istreambuf_iterator<char>(cv_report_in)),
                              std::istreambuf_iterator<char>());
  EXPECT_NE(cv_report.find("eval.variant flip+snapshot; threshold on each fold&#39;s validation "
                           "part: best TPR at FPPI &lt;= 1, middle of the tied thresholds"),
            std::string::npos);
  // The run now continues as the variant: a plain --resume with it keeps every fold.
  const auto evaluated = fs::last_write_time(moved / "fold0" / "test_dets.json");
  r = run_mbmd(again +
               " --resume --set eval.variant=flip+snapshot --set eval.threshold_rule=middle");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(fs::last_write_time(moved / "fold0" / "test_dets.json"), evaluated);
}

}  // namespace
