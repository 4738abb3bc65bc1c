// The summary of `mbmd cv --repeats K` over its repeats (docs/commands.md, "mbmd cv"): each
// metric's mean over the repeats of each repeat's mean over its folds, the spread of those means
// (sd with ddof 0, min, max), and every fold of every repeat pooled; in Markdown, CSV, JSON and
// report.html, with the FROC band of each repeat's pooled test parts.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "cv_repeats.h"
#include "mbmd/core/atomic_file.h"
#include "mbmd/core/json_file.h"
#include "mbmd/core/strings.h"
#include "mbmd/report/report.h"

namespace mbmd::engine {
namespace fs = std::filesystem;
namespace {

std::vector<Json> test_metrics_of(const std::vector<FoldResult>& folds) {
  std::vector<Json> out;
  for (const auto& f : folds) out.push_back(f.test_metrics);
  return out;
}

// Mean, sd (ddof 0), min and max of the repeat means that are defined (>= 0).
void spread_over_repeats(RepeatSummary& s) {
  std::vector<double> defined;
  for (double v : s.repeat_means)
    if (v >= 0) defined.push_back(v);
  s.repeats_defined = static_cast<int>(defined.size());
  if (defined.empty()) return;
  double sum = 0, sq = 0;
  for (double v : defined) sum += v;
  s.mean = sum / static_cast<double>(defined.size());
  for (double v : defined) sq += (v - s.mean) * (v - s.mean);
  s.sd = std::sqrt(sq / static_cast<double>(defined.size()));
  s.min = *std::min_element(defined.begin(), defined.end());
  s.max = *std::max_element(defined.begin(), defined.end());
}

std::string value_text(double v) { return v >= 0 ? fixed_text(v) : "n/a"; }

std::string mean_sd_text(const RepeatSummary& s) {
  return s.repeats_defined ? fixed_text(s.mean) + " (" + fixed_text(s.sd) + ")" : "n/a";
}

std::string range_text(const RepeatSummary& s) {
  return s.repeats_defined ? fixed_text(s.min) + " .. " + fixed_text(s.max) : "n/a";
}

Json or_null(double v, bool defined) { return defined ? Json(v) : Json(); }

Json repeats_json(const RepeatedCvRun& run, const RepeatedCvResult& result) {
  Json j;
  j["format"] = "mbmd-cv-repeats";
  j["repeats_planned"] = run.repeats_planned;
  j["repeats_done"] = result.repeats.size();
  j["folds_planned"] = run.first.folds_planned;
  j["metrics"] = run.first.metrics;
  j["split_seeds"] = result.split_seeds;
  j["summary"] = Json::object();
  for (const auto& s : result.summary) {
    const bool any = s.repeats_defined > 0, pooled = s.pooled.defined > 0;
    j["summary"][s.name] = {{"mean", or_null(s.mean, any)},
                            {"sd", or_null(s.sd, any)},
                            {"min", or_null(s.min, any)},
                            {"max", or_null(s.max, any)},
                            {"repeat_means", s.repeat_means},
                            {"repeats_defined", s.repeats_defined},
                            {"pooled",
                             {{"mean", or_null(s.pooled.mean, pooled)},
                              {"std", or_null(s.pooled.std, pooled)},
                              {"values", s.pooled.values},
                              {"defined", s.pooled.defined}}}};
  }
  j["repeats"] = Json::array();
  for (size_t r = 0; r < result.repeats.size(); ++r)
    j["repeats"].push_back(
        {{"repeat", r},
         {"split_seed", result.split_seeds[r]},
         {"work_dir", fs::path(result.repeats[r].summary_json).parent_path().string()},
         {"folds", result.repeats[r].folds.size()}});
  return j;
}

std::string repeats_header(const RepeatedCvRun& run, const RepeatedCvResult& result) {
  std::ostringstream md;
  md << "# Cross-validation repeated with " << run.repeats_planned
     << " split seeds: " << config_at(run.first.config, "model.neck.type").get<std::string>()
     << " neck, ResNet-" << config_at(run.first.config, "model.backbone.depth").dump() << "\n\n"
     << result.repeats.size() << " of " << run.repeats_planned << " repeats of "
     << run.first.folds_planned << " permutations, repeat r in repeat_r/ with data.split_seed "
     << (result.split_seeds.empty() ? 0 : result.split_seeds.front())
     << " + r. Each repeat's value is its mean over its folds' test parts; mean (sd) and min .. "
        "max are over the repeats (ddof 0); the last column pools every fold of every repeat.\n\n";
  return md.str();
}

void write_repeats_report(const RepeatedCvRun& run, const RepeatedCvResult& result) {
  Report report;
  report.title = "mbmd repeated cross-validation: " + fs::path(run.work_dir).filename().string();
  report.facts.push_back(
      {"model", "ResNet-" + config_at(run.first.config, "model.backbone.depth").dump() + " + " +
                    config_at(run.first.config, "model.neck.type").dump() + " neck, input " +
                    config_at(run.first.config, "input.scale").dump()});
  report.facts.push_back({"data", run.first.dataset_name + ", " +
                                      std::to_string(run.first.usable_images) + " images, " +
                                      std::to_string(run.first.parts) + " parts"});
  report.facts.push_back({"repeats done", std::to_string(result.repeats.size()) + " of " +
                                              std::to_string(run.repeats_planned) + ", " +
                                              std::to_string(run.first.folds_planned) +
                                              " folds each"});
  ReportTable table;
  table.title = "Test parts: each repeat's mean over its folds, and over the repeats";
  table.header = {"metric"};
  for (size_t r = 0; r < result.repeats.size(); ++r)
    table.header.push_back("repeat " + std::to_string(r));
  table.header.insert(table.header.end(), {"mean (sd)", "min .. max", "all folds, mean (std)"});
  for (const auto& s : result.summary) {
    std::vector<std::string> row{metric_display_name(s.name)};
    for (double v : s.repeat_means) row.push_back(value_text(v));
    row.insert(row.end(), {mean_sd_text(s), range_text(s), mean_std_text(s.pooled)});
    table.rows.push_back(std::move(row));
  }
  report.tables.push_back(table);
  std::vector<PlotSeries> curves;
  for (size_t r = 0; r < result.repeats.size(); ++r)
    if (!result.repeats[r].pooled_bootstrap.is_null())
      curves.push_back(froc_band_series(
          "repeat " + std::to_string(r) + " (seed " + std::to_string(result.split_seeds[r]) + ")",
          result.repeats[r].pooled_bootstrap));
  if (!curves.empty())
    report.figures.push_back(
        {froc_caption("FROC of each repeat's pooled test parts, 1/8 to 8 FPPI.", curves),
         froc_plot(curves, "FROC of the pooled test parts")});
  for (size_t r = 0; r < result.repeats.size(); ++r)
    report.notes.push_back("repeat " + std::to_string(r) + " (data.split_seed " +
                           std::to_string(result.split_seeds[r]) +
                           "): " + result.repeats[r].report);
  write_report(result.report, report);
}

}  // namespace

std::vector<RepeatSummary> summarize_repeats(const std::vector<CvResult>& repeats,
                                             const std::vector<std::string>& names) {
  std::vector<Json> all_folds;
  for (const auto& repeat : repeats)
    for (auto& m : test_metrics_of(repeat.folds)) all_folds.push_back(std::move(m));
  std::vector<RepeatSummary> out;
  for (const auto& name : names) {
    RepeatSummary s;
    s.name = name;
    for (const auto& repeat : repeats)
      s.repeat_means.push_back(summarize_folds(test_metrics_of(repeat.folds), {name})[0].mean);
    spread_over_repeats(s);
    s.pooled = summarize_folds(all_folds, {name})[0];
    out.push_back(std::move(s));
  }
  return out;
}

std::string repeats_markdown(const std::vector<RepeatSummary>& summary) {
  const size_t repeats = summary.empty() ? 0 : summary.front().repeat_means.size();
  std::vector<std::string> header = {"metric"};
  for (size_t r = 0; r < repeats; ++r) header.push_back("repeat " + std::to_string(r));
  for (const char* column : {"mean (sd)", "min .. max", "all folds, mean (std)"})
    header.push_back(column);
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : summary) {
    std::vector<std::string> row = {metric_display_name(s.name)};
    for (double v : s.repeat_means) row.push_back(value_text(v));
    for (auto&& cell : {mean_sd_text(s), range_text(s), mean_std_text(s.pooled)})
      row.push_back(cell);
    rows.push_back(std::move(row));
  }
  return markdown_table(header, rows);
}

std::string repeats_csv(const std::vector<RepeatSummary>& summary) {
  std::ostringstream csv;
  const size_t repeats = summary.empty() ? 0 : summary.front().repeat_means.size();
  csv << "metric,mean,sd,min,max,repeats_defined,pooled_mean,pooled_std,pooled_defined";
  for (size_t r = 0; r < repeats; ++r) csv << ",repeat" << r;
  csv << "\n";
  auto cell = [](double v, bool defined) { return defined ? fixed_text(v) : std::string(); };
  for (const auto& s : summary) {
    const bool any = s.repeats_defined > 0, pooled = s.pooled.defined > 0;
    csv << s.name << "," << cell(s.mean, any) << "," << cell(s.sd, any) << "," << cell(s.min, any)
        << "," << cell(s.max, any) << "," << s.repeats_defined << "," << cell(s.pooled.mean, pooled)
        << "," << cell(s.pooled.std, pooled) << "," << s.pooled.defined;
    for (double v : s.repeat_means) csv << "," << cell(v, v >= 0);
    csv << "\n";
  }
  return csv.str();
}

void write_repeated_cv_summary(const RepeatedCvRun& run, RepeatedCvResult& result) {
  result.summary = summarize_repeats(result.repeats, run.first.metrics);
  write_file_atomic(result.summary_md,
                    repeats_header(run, result) + repeats_markdown(result.summary));
  write_file_atomic(result.summary_csv, repeats_csv(result.summary));
  write_json_file(result.summary_json, repeats_json(run, result));
  write_repeats_report(run, result);
}

}  // namespace mbmd::engine
