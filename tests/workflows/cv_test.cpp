// Cross-validation: the summary arithmetic on hand-made numbers, metric lookup by name, and a
// two-fold run on a tiny phantom (ResNet-18, 96x128 films, one epoch) that writes every per-fold
// and summary file with the fields it promises, resumes without retraining, and refuses bad input
// before training.
#include "mbmd/workflows/cv.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "mbmd/core/error.h"
#include "mbmd/data/coco.h"
#include "mbmd/data/split.h"
#include "mbmd/data/synthetic/phantom.h"

namespace mbmd::engine {
namespace {

namespace fs = std::filesystem;

Json read_json(const fs::path& path) {
  std::ifstream in(path);
  return Json::parse(in);
}

TEST(CvSummary, MeanAndStdOverDefinedFolds) {
  const std::vector<Json> folds = {{{"ap", {{"0.5", 0.5}}}, {"tpr", 0.8}, {"ap50_small", -1.0}},
                                   {{"ap", {{"0.5", 0.7}}}, {"tpr", 0.6}, {"ap50_small", 0.25}},
                                   {{"ap", {{"0.5", 0.9}}}, {"tpr", 1.0}, {"ap50_small", -1.0}}};
  const auto s = summarize_folds(folds, {"ap50", "tpr", "ap50_small"});
  ASSERT_EQ(s.size(), 3u);
  EXPECT_NEAR(s[0].mean, 0.7, 1e-12);
  EXPECT_NEAR(s[0].std, std::sqrt(0.08 / 3), 1e-12);  // ddof 0: (0.04 + 0 + 0.04) / 3
  EXPECT_EQ(s[0].defined, 3);
  EXPECT_NEAR(s[1].mean, 0.8, 1e-12);
  EXPECT_EQ(s[2].defined, 1);  // undefined folds (-1) are left out
  EXPECT_NEAR(s[2].mean, 0.25, 1e-12);
  EXPECT_NEAR(s[2].std, 0.0, 1e-12);
  EXPECT_EQ(mean_std_text(s[0]), "0.7000 (0.1633)");
  const std::string md = summary_markdown(s);
  EXPECT_NE(md.find("| metric | fold 0 | fold 1 | fold 2 | mean (std) |"), std::string::npos);
  EXPECT_NE(md.find("| AP@50 | 0.5000 | 0.7000 | 0.9000 | 0.7000 (0.1633) |"), std::string::npos);
  EXPECT_NE(md.find("| AP@50 S | n/a | 0.2500 | n/a | 0.2500 (0.0000) |"), std::string::npos);
  const std::string csv = summary_csv(s);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "metric,mean,std,defined,fold0,fold1,fold2");
  EXPECT_NE(csv.find("\ntpr,0.8000,0.1633,3,0.8000,0.6000,1.0000\n"), std::string::npos);
  MetricSummary none;
  EXPECT_EQ(mean_std_text(none), "n/a");
}

TEST(CvSummary, MetricsByName) {
  const Json m = {{"ap", {{"0.2", 0.4}, {"0.75", 0.1}}},
                  {"sensitivity_at", {{"0.125", 0.3}}},
                  {"cpm", 0.5},
                  {"score_thr", nullptr}};
  EXPECT_DOUBLE_EQ(metric_value(m, "ap20"), 0.4);
  EXPECT_DOUBLE_EQ(metric_value(m, "ap75"), 0.1);
  EXPECT_DOUBLE_EQ(metric_value(m, "sens@0.125"), 0.3);
  EXPECT_DOUBLE_EQ(metric_value(m, "cpm"), 0.5);
  EXPECT_DOUBLE_EQ(metric_value(m, "score_thr"), -1.0);  // null: infinite threshold
  EXPECT_THROW(metric_value(m, "ap50"), Error);          // not evaluated
  EXPECT_THROW(check_metric_name("precision"), Error);
  EXPECT_THROW(check_metric_name("ap"), Error);
  EXPECT_THROW(check_metric_name("sens@x"), Error);
  EXPECT_NO_THROW(check_metric_name("ap50_large"));
  EXPECT_EQ(default_cv_metrics().size(), 9u);
}

class CvRun : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("mbmd_cv_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    data::PhantomOptions o;
    o.patients = 10;
    o.width = 96;
    o.height = 128;
    ann_ = data::write_phantom(o, (root_ / "data").string());
  }
  void TearDown() override { fs::remove_all(root_); }

  Json config() const {
    Json c = load_config("demo_quick");
    apply_overrides(c, {"data.dataset=coco", "data.ann_file=" + ann_, "runtime.threads=2"});
    return c;
  }

  fs::path root_;
  std::string ann_;
};

TEST_F(CvRun, TwoFoldsWritePerFoldResultsAndTheSummary) {
  CvOptions options;
  options.work_dir = (root_ / "cv").string();
  options.folds = 2;
  options.progress = false;
  options.overlays = 2;
  const CvResult result = run_cv(config(), options);
  ASSERT_EQ(result.folds.size(), 2u);

  // The split: five parts, patient-grouped; fold 1's test part is fold 0's validation part.
  const data::Split split = data::read_split(result.split_file);
  ASSERT_EQ(split.parts.size(), 5u);
  for (int r = 0; r < 2; ++r) {
    const fs::path fold = root_ / "cv" / ("fold" + std::to_string(r));
    for (const char* file :
         {"config.json", "log.jsonl", "last.ckpt", "best.ckpt", "val_metrics.json",
          "test_metrics.json", "test_dets.json", "fold.json", "report.html"})
      EXPECT_TRUE(fs::exists(fold / file)) << fold / file;
    const Json fold_config = read_json(fold / "config.json");
    EXPECT_EQ(fold_config["data"]["permutation"], r);
    EXPECT_EQ(fold_config["data"]["split_file"], result.split_file);
    const Json test = read_json(fold / "test_metrics.json");
    for (const char* key : {"ap", "ap50_small", "ap50_medium", "ap50_large", "tpr", "fppi", "froc",
                            "cpm", "score_thr"})
      EXPECT_TRUE(test.contains(key)) << key;
    for (const char* thr : {"0.2", "0.5", "0.75"}) EXPECT_TRUE(test["ap"].contains(thr)) << thr;
    EXPECT_EQ(test["num_images"].get<size_t>(), split.parts[r].size());
    // The test part is evaluated at the threshold chosen on validation.
    const Json val = read_json(fold / "val_metrics.json");
    EXPECT_EQ(val["num_images"].get<size_t>(), split.parts[(r + 1) % 5].size());
    EXPECT_TRUE(val["score_thr_chosen"].get<bool>());
    EXPECT_EQ(test["score_thr"], val["score_thr"]);
    EXPECT_FALSE(test["score_thr_chosen"].get<bool>());
    // Detections only on test films.
    const std::set<std::string> test_ids(split.parts[r].begin(), split.parts[r].end());
    for (const auto& d : read_json(fold / "test_dets.json"))
      EXPECT_TRUE(test_ids.count(d["image_id"].get<std::string>())) << d.dump();
    const Json f = read_json(fold / "fold.json");
    EXPECT_EQ(f["permutation"], r);
    EXPECT_EQ(f["test_images"].get<size_t>(), split.parts[r].size());
    EXPECT_EQ(f["train_images"].get<size_t>() + f["val_images"].get<size_t>() +
                  f["test_images"].get<size_t>(),
              20u);
  }

  const Json summary = read_json(result.summary_json);
  EXPECT_EQ(summary["folds"].size(), 2u);
  for (const auto& name : default_cv_metrics()) {
    ASSERT_TRUE(summary["summary"].contains(name)) << name;
    const Json& s = summary["summary"][name];
    ASSERT_EQ(s["values"].size(), 2u);
    // The mean is the mean of the folds' test values.
    const double a = s["values"][0].get<double>(), b = s["values"][1].get<double>();
    const double fa = metric_value(read_json(root_ / "cv/fold0/test_metrics.json"), name);
    EXPECT_DOUBLE_EQ(a, fa) << name;
    if (a >= 0 && b >= 0) {
      EXPECT_NEAR(s["mean"].get<double>(), (a + b) / 2, 1e-12) << name;
      EXPECT_NEAR(s["std"].get<double>(), std::abs(a - b) / 2, 1e-12) << name;
    }
  }
  std::ifstream md(result.summary_md), csv(result.summary_csv), html(result.report);
  const std::string md_text((std::istreambuf_iterator<char>(md)), {});
  const std::string csv_text((std::istreambuf_iterator<char>(csv)), {});
  const std::string html_text((std::istreambuf_iterator<char>(html)), {});
  EXPECT_NE(md_text.find("| metric | fold 0 | fold 1 | mean (std) |"), std::string::npos);
  EXPECT_NE(md_text.find("| AP@20 |"), std::string::npos);
  EXPECT_NE(md_text.find("| CPM |"), std::string::npos);
  EXPECT_EQ(csv_text.substr(0, csv_text.find('\n')), "metric,mean,std,defined,fold0,fold1");
  EXPECT_EQ(std::count(csv_text.begin(), csv_text.end(), '\n'), 10);
  EXPECT_NE(html_text.find("<table>"), std::string::npos);
  EXPECT_NE(html_text.find("<svg"), std::string::npos);
  EXPECT_NE(html_text.find("mean (std)"), std::string::npos);

  // Again without --resume: refused, nothing touched; with it: the folds are kept, not retrained.
  const auto stamp = fs::last_write_time(root_ / "cv/fold0/last.ckpt");
  EXPECT_THROW(run_cv(config(), options), Error);
  options.resume = true;
  const CvResult again = run_cv(config(), options);
  ASSERT_EQ(again.folds.size(), 2u);
  EXPECT_EQ(fs::last_write_time(root_ / "cv/fold0/last.ckpt"), stamp);
  EXPECT_EQ(again.folds[1].test_metrics, result.folds[1].test_metrics);
}

TEST_F(CvRun, BadInputIsRefusedBeforeTraining) {
  CvOptions options;
  options.progress = false;
  options.folds = 2;
  auto message = [&](const Json& c) -> std::string {
    try {
      run_cv(c, options);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  // A work dir that is a file.
  const fs::path file = root_ / "file";
  std::ofstream(file) << "x";
  options.work_dir = file.string();
  EXPECT_NE(message(config()).find("is a file"), std::string::npos);

  options.work_dir = (root_ / "cv").string();
  // An empty dataset.
  data::Dataset empty;
  empty.categories = {"mass"};
  const std::string empty_json = (root_ / "empty.json").string();
  data::write_coco(empty_json, empty);
  Json c = config();
  c["data"]["ann_file"] = empty_json;
  EXPECT_NE(message(c).find("empty"), std::string::npos) << message(c);
  // Too many folds, an unknown metric.
  options.folds = 6;
  EXPECT_NE(message(config()).find("--folds"), std::string::npos);
  options.folds = 2;
  options.metrics = {"ap50", "recall"};
  EXPECT_NE(message(config()).find("unknown metric 'recall'"), std::string::npos);
  options.metrics.clear();
  // Too few patients for five parts (2 patients: parts 2..4 are empty).
  data::PhantomOptions small;
  small.patients = 2;
  small.width = 96;
  small.height = 128;
  c = config();
  c["data"]["ann_file"] = data::write_phantom(small, (root_ / "small").string());
  EXPECT_NE(message(c).find("empty part"), std::string::npos) << message(c);
  // Nothing was written for any of them.
  EXPECT_FALSE(fs::exists(root_ / "cv"));
}

}  // namespace
}  // namespace mbmd::engine
