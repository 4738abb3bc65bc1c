#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

#include "fold_detector.h"
#include "mbmd/core/atomic_file.h"
#include "mbmd/core/json_file.h"
#include "mbmd/core/strings.h"
#include "mbmd/report/report.h"
#include "mbmd/workflows/cv.h"

namespace mbmd::engine {
namespace fs = std::filesystem;

void write_cv_report(const CvRun& run, const CvResult& result) {
  Report report;
  report.title = "mbmd cross-validation: " + fs::path(run.work_dir).filename().string();
  report.facts.push_back(
      {"model", "ResNet-" + config_at(run.config, "model.backbone.depth").dump() + " + " +
                    config_at(run.config, "model.neck.type").dump() + " neck, input " +
                    config_at(run.config, "input.scale").dump()});
  report.facts.push_back({"data", run.dataset_name + ", " + std::to_string(run.usable_images) +
                                      " images, " + std::to_string(run.parts) + " parts"});
  report.facts.push_back({"split", run.split_origin});
  report.facts.push_back({"evaluated as", evaluated_as_text(run.config)});
  report.facts.push_back({"folds done", std::to_string(result.folds.size()) + " of " +
                                            std::to_string(run.folds_planned)});
  ReportTable table;
  table.title = "Test parts: mean (std) over folds";
  table.header = {"metric"};
  for (const auto& f : result.folds)
    table.header.push_back("fold " + std::to_string(f.permutation));
  table.header.push_back("mean (std)");
  for (const auto& s : result.summary) {
    std::vector<std::string> row{metric_display_name(s.name)};
    for (double v : s.values) row.push_back(v >= 0 ? fixed_text(v) : "n/a");
    row.push_back(mean_std_text(s));
    table.rows.push_back(std::move(row));
  }
  report.tables.push_back(table);
  if (!result.pooled_bootstrap.is_null())
    report.tables.push_back(intervals_table(
        "Pooled test parts (each fold's model on its own part; TPR and FPPI at each fold's "
        "validation threshold), with " +
            bootstrap_band_label(result.pooled_bootstrap),
        result.pooled_bootstrap));
  std::vector<PlotSeries> curves;
  for (const auto& f : result.folds)
    curves.push_back(froc_series("fold " + std::to_string(f.permutation), f.test_metrics));
  report.figures.push_back(
      {"FROC of each fold's test part.", froc_plot(curves, "FROC of the test parts")});
  if (!result.pooled_bootstrap.is_null()) {
    const PlotSeries pooled = froc_band_series("pooled test parts", result.pooled_bootstrap);
    report.figures.push_back(
        {froc_caption("FROC of the pooled test parts (each fold's model on its own part), 1/8 "
                      "to 8 FPPI.",
                      {pooled}),
         froc_plot({pooled}, "FROC of the pooled test parts")});
  }
  // Training curves of the first fold, as an example of the runs.
  if (!result.folds.empty()) {
    for (auto& fig : training_figures(
             read_train_log((fs::path(result.folds.front().work_dir) / "log.jsonl").string())))
      report.figures.push_back(
          {"fold " + std::to_string(result.folds.front().permutation) + ": " + fig.first,
           fig.second});
  }
  for (const auto& f : result.folds)
    report.notes.push_back("fold " + std::to_string(f.permutation) + ": " + f.work_dir +
                           "/report.html (checkpoint " + f.checkpoint + ", best " +
                           f.train.best_metric + " " + fixed_text(f.train.best_value) +
                           " at epoch " + std::to_string(f.train.best_epoch) + ")");
  write_report(result.report, report);
}

Json fold_to_json(const FoldResult& f) {
  return {{"permutation", f.permutation},
          {"work_dir", f.work_dir},
          {"checkpoint", f.checkpoint},
          {"epochs", f.train.epochs_done},
          {"iterations", f.train.iters_done},
          {"best_metric", f.train.best_metric},
          {"best_value", f.train.best_value},
          {"best_epoch", f.train.best_epoch},
          {"score_thr", std::isfinite(f.score_thr) ? Json(f.score_thr) : Json()},
          {"train_images", f.train_images},
          {"val_images", f.val_images},
          {"test_images", f.test_images},
          {"val_metrics", f.val_metrics},
          {"test_metrics", f.test_metrics}};
}

FoldResult fold_from_json(const Json& j) {
  FoldResult f;
  f.permutation = j.at("permutation").get<int>();
  f.work_dir = j.at("work_dir").get<std::string>();
  f.checkpoint = j.at("checkpoint").get<std::string>();
  f.train.epochs_done = j.at("epochs").get<int64_t>();
  f.train.iters_done = j.at("iterations").get<int64_t>();
  f.train.best_metric = j.at("best_metric").get<std::string>();
  f.train.best_value = j.at("best_value").get<double>();
  f.train.best_epoch = j.at("best_epoch").get<int64_t>();
  f.score_thr = j.at("score_thr").is_number() ? j.at("score_thr").get<double>()
                                              : std::numeric_limits<double>::infinity();
  f.train_images = j.at("train_images").get<int>();
  f.val_images = j.at("val_images").get<int>();
  f.test_images = j.at("test_images").get<int>();
  f.val_metrics = j.at("val_metrics");
  f.test_metrics = j.at("test_metrics");
  return f;
}

std::vector<MetricSummary> summarize_folds(const std::vector<Json>& fold_metrics,
                                           const std::vector<std::string>& names) {
  std::vector<MetricSummary> out;
  for (const auto& name : names) {
    MetricSummary s;
    s.name = name;
    double sum = 0;
    for (const auto& m : fold_metrics) {
      const double v = metric_value(m, name);
      s.values.push_back(v);
      if (v >= 0) {
        sum += v;
        ++s.defined;
      }
    }
    if (s.defined > 0) {
      s.mean = sum / s.defined;
      double sq = 0;
      for (double v : s.values)
        if (v >= 0) sq += (v - s.mean) * (v - s.mean);
      s.std = std::sqrt(sq / s.defined);
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::string mean_std_text(const MetricSummary& s) {
  if (s.defined == 0) return "n/a";
  return fixed_text(s.mean) + " (" + fixed_text(s.std) + ")";
}

std::string summary_markdown(const std::vector<MetricSummary>& summary) {
  const size_t folds = summary.empty() ? 0 : summary.front().values.size();
  std::vector<std::string> header = {"metric"};
  for (size_t f = 0; f < folds; ++f) header.push_back("fold " + std::to_string(f));
  header.push_back("mean (std)");
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : summary) {
    std::vector<std::string> row = {metric_display_name(s.name)};
    for (double v : s.values) row.push_back(v >= 0 ? fixed_text(v) : "n/a");
    row.push_back(mean_std_text(s));
    rows.push_back(std::move(row));
  }
  return markdown_table(header, rows);
}

std::string summary_csv(const std::vector<MetricSummary>& summary) {
  std::ostringstream csv;
  const size_t folds = summary.empty() ? 0 : summary.front().values.size();
  csv << "metric,mean,std,defined";
  for (size_t f = 0; f < folds; ++f) csv << ",fold" << f;
  csv << "\n";
  for (const auto& s : summary) {
    csv << s.name << "," << (s.defined ? fixed_text(s.mean) : "") << ","
        << (s.defined ? fixed_text(s.std) : "") << "," << s.defined;
    for (double v : s.values) csv << "," << (v >= 0 ? fixed_text(v) : "");
    csv << "\n";
  }
  return csv.str();
}

void write_cv_summary(const CvRun& run, CvResult& result) {
  std::vector<Json> test_metrics;
  for (const auto& f : result.folds) test_metrics.push_back(f.test_metrics);
  result.summary = summarize_folds(test_metrics, run.metrics);
  std::ostringstream md;
  md << "# Cross-validation: " << config_at(run.config, "model.neck.type").get<std::string>()
     << " neck, ResNet-" << config_at(run.config, "model.backbone.depth").dump() << "\n\n"
     << "Test parts of " << result.folds.size() << " of " << run.folds_planned
     << " permutations (test = part r, validation = part r+1, training = the rest); "
     << "mean (std over folds, ddof 0). TPR and FPPI at the score threshold chosen on each "
     << "fold's validation part. Split: " << run.split_origin << ".\n\n"
     << summary_markdown(result.summary);
  write_file_atomic(result.summary_md, md.str());
  write_file_atomic(result.summary_csv, summary_csv(result.summary));
  Json j;
  j["format"] = "mbmd-cv";
  j["folds_planned"] = run.folds_planned;
  j["metrics"] = run.metrics;
  j["split_file"] = run.split_file;
  j["summary"] = Json::object();
  for (const auto& s : result.summary)
    j["summary"][s.name] = {{"mean", s.defined ? Json(s.mean) : Json()},
                            {"std", s.defined ? Json(s.std) : Json()},
                            {"values", s.values},
                            {"defined", s.defined}};
  j["folds"] = Json::array();
  for (const auto& f : result.folds) j["folds"].push_back(fold_to_json(f));
  write_json_file(result.summary_json, j);

  write_cv_report(run, result);
}

}  // namespace mbmd::engine
