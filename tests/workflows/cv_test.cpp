// Cross-validation: the summary arithmetic on hand-made numbers, metric lookup by name, and a
// two-fold run on a tiny phantom (ResNet-18, 96x128 films, one epoch) that writes every per-fold
// and summary file with the fields it promises, resumes without retraining, and refuses bad input
// before training; two repeats with two split seeds, summarized over the repeats.
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
#include "temp_dir.h"

namespace mbmd::engine {
namespace {

namespace fs = std::filesystem;

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

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
    root_ = mbmd::testing::fresh_test_dir("mbmd_cv_");
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
  // The pooled test parts' FROC with its 95% band, from intervals.json's grid; no repeat folder.
  const Json intervals = read_json(root_ / "cv/intervals.json");
  ASSERT_EQ(intervals["froc_band"].size(), 25u);
  for (const auto& p : intervals["froc_band"])
    if (p["low"].is_number()) {
      EXPECT_LE(p["low"].get<double>(), p["high"].get<double>()) << p.dump();
      EXPECT_EQ(p["defined"], 1000) << p.dump();
    }
  EXPECT_EQ(result.pooled_bootstrap, intervals);
  // The pooled TPR and FPPI are at each fold's own threshold: the folds' counts added up.
  int true_positives = 0, false_positives = 0, images = 0;
  for (const auto& f : result.folds) {
    true_positives += f.test_metrics["true_positives"].get<int>();
    false_positives += f.test_metrics["false_positives"].get<int>();
    images += f.test_images;
  }
  const auto masses = read_json(root_ / "cv/test_gt.json")["annotations"].size();
  EXPECT_NEAR(intervals["metrics"]["tpr"]["value"].get<double>(),
              static_cast<double>(true_positives) / static_cast<double>(masses), 1e-12);
  EXPECT_NEAR(intervals["metrics"]["fppi"]["value"].get<double>(),
              static_cast<double>(false_positives) / images, 1e-12);
  EXPECT_NE(html_text.find("<polygon class=\"band\""), std::string::npos);
  EXPECT_NE(html_text.find("95% CI, patient-level bootstrap (1000 resamples)"), std::string::npos);
  EXPECT_FALSE(fs::exists(root_ / "cv/repeat_0"));

  // Again without --resume: refused, nothing touched; with it: the folds are kept, not retrained.
  const auto stamp = fs::last_write_time(root_ / "cv/fold0/last.ckpt");
  EXPECT_THROW(run_cv(config(), options), Error);
  options.resume = true;
  // Resuming with a changed setting is refused by name, before anything runs; the thread count
  // may change between sessions.
  Json changed = config();
  apply_overrides(changed, {"train.lr=0.5", "runtime.threads=1"});
  try {
    run_cv(changed, options);
    FAIL() << "a changed train.lr was accepted";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("train.lr: "), std::string::npos) << message;
    EXPECT_EQ(message.find("runtime.threads"), std::string::npos) << message;
  }
  Json other_threads = config();
  apply_overrides(other_threads, {"runtime.threads=1"});
  const CvResult again = run_cv(other_threads, options);
  ASSERT_EQ(again.folds.size(), 2u);
  EXPECT_EQ(fs::last_write_time(root_ / "cv/fold0/last.ckpt"), stamp);
  EXPECT_EQ(again.folds[1].test_metrics, result.folds[1].test_metrics);
}

TEST(CvRepeatsSummary, MeansOverRepeatsTheirSpreadAndAllFoldsPooled) {
  auto repeat = [](std::vector<double> ap50) {
    CvResult r;
    for (double v : ap50) {
      FoldResult f;
      f.test_metrics = {{"ap", {{"0.5", v}}}, {"ap50_small", -1.0}};
      r.folds.push_back(f);
    }
    return r;
  };
  const auto s = summarize_repeats({repeat({0.4, 0.6}), repeat({0.8})}, {"ap50", "ap50_small"});
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].repeat_means, (std::vector<double>{0.5, 0.8}));
  EXPECT_NEAR(s[0].mean, 0.65, 1e-12);
  EXPECT_NEAR(s[0].sd, 0.15, 1e-12);  // ddof 0 over the two repeat means
  EXPECT_DOUBLE_EQ(s[0].min, 0.5);
  EXPECT_DOUBLE_EQ(s[0].max, 0.8);
  EXPECT_EQ(s[0].repeats_defined, 2);
  EXPECT_NEAR(s[0].pooled.mean, 0.6, 1e-12);  // (0.4 + 0.6 + 0.8) / 3
  EXPECT_EQ(s[0].pooled.values.size(), 3u);
  EXPECT_EQ(s[1].repeats_defined, 0);
  const std::string md = repeats_markdown(s);
  EXPECT_NE(md.find("| metric | repeat 0 | repeat 1 | mean (sd) | min .. max | all folds, mean "
                    "(std) |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| AP@50 | 0.5000 | 0.8000 | 0.6500 (0.1500) | 0.5000 .. 0.8000 | 0.6000 "),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| AP@50 S | n/a | n/a | n/a | n/a | n/a |"), std::string::npos) << md;
  const std::string csv = repeats_csv(s);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "metric,mean,sd,min,max,repeats_defined,pooled_mean,pooled_std,pooled_defined,repeat0,"
            "repeat1");
  EXPECT_NE(csv.find("\nap50,0.6500,0.1500,0.5000,0.8000,2,0.6000,0.1633,3,0.5000,0.8000\n"),
            std::string::npos)
      << csv;
}

TEST_F(CvRun, TwoRepeatsRunWithTwoSplitSeedsAndSummarizeOverThem) {
  CvOptions options;
  options.work_dir = (root_ / "cv").string();
  options.folds = 1;
  options.progress = false;
  options.overlays = 0;
  options.metrics = {"ap50", "tpr", "cpm"};
  const Json c = config();
  const RepeatedCvResult result = run_repeated_cv(c, options, 2);
  ASSERT_EQ(result.repeats.size(), 2u);
  const uint64_t seed = config_at(c, "data.split_seed").get<uint64_t>();
  EXPECT_EQ(result.split_seeds, (std::vector<uint64_t>{seed, seed + 1}));
  // Each repeat is a whole cross-validation in its folder, with its own split.
  for (int r = 0; r < 2; ++r) {
    const fs::path dir = root_ / "cv" / ("repeat_" + std::to_string(r));
    for (const char* f : {"split.json", "config.json", "fold0/fold.json", "summary.json",
                          "report.html", "intervals.json", "variants.json", "test_gt.json"})
      EXPECT_TRUE(fs::exists(dir / f)) << dir / f;
    EXPECT_EQ(read_json(dir / "config.json")["data"]["split_seed"], seed + r);
  }
  EXPECT_NE(data::read_split((root_ / "cv/repeat_0/split.json").string()).parts,
            data::read_split((root_ / "cv/repeat_1/split.json").string()).parts);
  EXPECT_FALSE(fs::exists(root_ / "cv/fold0"));
  // DIR's summary over the repeats.
  const Json summary = read_json(result.summary_json);
  EXPECT_EQ(summary["format"], "mbmd-cv-repeats");
  EXPECT_EQ(summary["repeats_done"], 2);
  EXPECT_EQ(summary["split_seeds"], (Json{seed, seed + 1}));
  ASSERT_EQ(summary["repeats"].size(), 2u);
  for (const auto& name : options.metrics) {
    const Json& s = summary["summary"][name];
    for (const char* key :
         {"mean", "sd", "min", "max", "repeat_means", "repeats_defined", "pooled"})
      EXPECT_TRUE(s.contains(key)) << name << " " << key;
    ASSERT_EQ(s["repeat_means"].size(), 2u);
    const double a = s["repeat_means"][0].get<double>(), b = s["repeat_means"][1].get<double>();
    EXPECT_DOUBLE_EQ(a,
                     metric_value(read_json(root_ / "cv/repeat_0/fold0/test_metrics.json"), name));
    if (a >= 0 && b >= 0) {
      EXPECT_NEAR(s["mean"].get<double>(), (a + b) / 2, 1e-12) << name;
      EXPECT_NEAR(s["sd"].get<double>(), std::abs(a - b) / 2, 1e-12) << name;
      EXPECT_DOUBLE_EQ(s["min"].get<double>(), std::min(a, b)) << name;
    }
    EXPECT_EQ(s["pooled"]["values"].size(), 2u);  // one fold in each repeat
  }
  std::ifstream md(result.summary_md), csv(result.summary_csv), html(result.report);
  const std::string md_text((std::istreambuf_iterator<char>(md)), {});
  const std::string csv_text((std::istreambuf_iterator<char>(csv)), {});
  const std::string html_text((std::istreambuf_iterator<char>(html)), {});
  EXPECT_NE(md_text.find("| metric | repeat 0 | repeat 1 | mean (sd) |"), std::string::npos);
  EXPECT_EQ(csv_text.substr(0, csv_text.find(',')), "metric");
  EXPECT_EQ(std::count(csv_text.begin(), csv_text.end(), '\n'), 4);
  EXPECT_EQ(count_of(html_text, "<polygon class=\"band\""), 2u);  // one per repeat

  // --resume keeps finished repeats (nothing retrained); without it the DIR is refused.
  const auto stamp = fs::last_write_time(root_ / "cv/repeat_1/fold0/last.ckpt");
  const auto intervals_stamp = fs::last_write_time(root_ / "cv/repeat_1/intervals.json");
  EXPECT_THROW(run_repeated_cv(c, options, 2), Error);
  options.resume = true;
  const RepeatedCvResult again = run_repeated_cv(c, options, 2);
  EXPECT_EQ(fs::last_write_time(root_ / "cv/repeat_1/fold0/last.ckpt"), stamp);
  EXPECT_EQ(fs::last_write_time(root_ / "cv/repeat_1/intervals.json"), intervals_stamp);
  EXPECT_EQ(read_json(again.summary_json)["summary"], summary["summary"]);
  // A repeated run and a single one do not mix.
  EXPECT_THROW(run_cv(c, options), Error);
}

TEST_F(CvRun, BadRepeatsAreRefusedBeforeTraining) {
  CvOptions options;
  options.work_dir = (root_ / "cv").string();
  options.folds = 1;
  options.progress = false;
  auto message = [&](int repeats) -> std::string {
    try {
      run_repeated_cv(config(), options, repeats);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(message(0).find("--repeats must be at least 1, got 0"), std::string::npos);
  EXPECT_NE(message(-2).find("--repeats"), std::string::npos);
  options.split_file = (root_ / "split.json").string();
  EXPECT_NE(message(2).find("--split-file"), std::string::npos) << message(2);
  options.split_file.clear();
  fs::create_directories(root_ / "cv/fold0");  // a cross-validation without repeats
  options.resume = true;
  EXPECT_NE(message(2).find("without --repeats"), std::string::npos) << message(2);
  EXPECT_FALSE(fs::exists(root_ / "cv/repeat_0"));
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
