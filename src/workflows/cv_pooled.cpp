#include "cv_pooled.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>

#include "mbmd/core/atomic_file.h"
#include "mbmd/core/error.h"
#include "mbmd/core/json_file.h"
#include "mbmd/core/strings.h"
#include "mbmd/data/coco.h"
#include "mbmd/eval/coco_io.h"
#include "mbmd/eval/metric_names.h"
#include "mbmd/eval/paired_bootstrap.h"
#include "mbmd/inference/merge.h"
#include "mbmd/inference/predictor.h"
#include "mbmd/pipeline/data_pipeline.h"

namespace mbmd::engine {
namespace {

namespace fs = std::filesystem;

fs::path fold_dir(const std::string& work_dir, int r) {
  return fs::path(work_dir) / ("fold" + std::to_string(r));
}

std::vector<data::Sample> test_samples(const data::Dataset& dataset, const data::Split& split,
                                       int r) {
  return usable_samples(data::select_samples(dataset.samples, data::split_fold(split, r).test));
}

void write_results(const fs::path& path, const std::vector<data::Sample>& samples,
                   const std::vector<model::Detections>& detections) {
  Json dets = Json::array();
  for (size_t i = 0; i < samples.size(); ++i)
    for (auto& d : coco_results(samples[i].image_id, detections[i])) dets.push_back(std::move(d));
  write_json_file(path.string(), dets);
}

}  // namespace

const std::vector<std::string>& test_variants() {
  static const std::vector<std::string> names = {"", "_flip", "_snapshot"};
  return names;
}

void write_fold_variants(const std::string& work_dir, const data::Dataset& dataset,
                         const data::Split& split, int folds, bool progress) {
  for (int r = 0; r < folds; ++r) {
    const fs::path dir = fold_dir(work_dir, r);
    const fs::path best = dir / "best.ckpt", last = dir / "last.ckpt";
    if (!fs::exists(dir / "test_dets.json") || !fs::exists(best) || !fs::exists(last)) continue;
    if (fs::exists(dir / "test_dets_flip.json") && fs::exists(dir / "test_dets_snapshot.json"))
      continue;
    if (progress) std::cerr << "fold " << r << ": flip TTA and best+last on the test part\n";
    const auto samples = test_samples(dataset, split, r);
    LoadedDetector best_model = load_detector(best.string());
    const auto plain = detect_samples(*best_model.model, best_model.config, samples);
    const auto mirrored = detect_samples(*best_model.model, best_model.config, samples, true);
    write_results(dir / "test_dets_flip.json", samples,
                  merge_runs_per_image({plain, mirrored}, {}));
    LoadedDetector last_model = load_detector(last.string());
    const auto from_last = detect_samples(*last_model.model, last_model.config, samples);
    write_results(dir / "test_dets_snapshot.json", samples,
                  merge_runs_per_image({plain, from_last}, {}));
  }
}

int write_pooled_test_results(const std::string& work_dir, const data::Dataset& dataset,
                              const data::Split& split, int folds) {
  data::Dataset pooled = dataset;
  pooled.samples.clear();
  std::map<std::string, int64_t> id_of;  // dataset id -> pooled COCO id
  std::map<std::string, Json> dets;      // variant suffix -> pooled results
  std::map<std::string, int> folds_with;
  int pooled_folds = 0;
  for (int r = 0; r < folds; ++r) {
    const fs::path dir = fold_dir(work_dir, r);
    if (!fs::exists(dir / "test_dets.json")) continue;
    ++pooled_folds;
    for (const auto& s : test_samples(dataset, split, r)) {
      id_of[s.image_id] = static_cast<int64_t>(pooled.samples.size()) + 1;
      pooled.samples.push_back(s);
    }
    for (const auto& suffix : test_variants()) {
      const fs::path file = dir / ("test_dets" + suffix + ".json");
      if (!fs::exists(file)) continue;
      ++folds_with[suffix];
      Json& out = dets.emplace(suffix, Json::array()).first->second;
      for (auto d : read_json_file(file.string(), "fold test results")) {
        const std::string id =
            d.at("image_id").is_string() ? d["image_id"].get<std::string>() : d["image_id"].dump();
        const auto found = id_of.find(id);
        if (found == id_of.end())
          throw Error(file.string() + ": image " + id + " is not in the test part of fold " +
                      std::to_string(r) + " (was the split changed after the run?)");
        d["image_id"] = found->second;
        d["fold"] = r;
        out.push_back(std::move(d));
      }
    }
  }
  if (pooled_folds == 0) return 0;
  data::write_coco((fs::path(work_dir) / "test_gt.json").string(), pooled);
  for (const auto& [suffix, results] : dets)
    if (folds_with[suffix] == pooled_folds)
      write_json_file((fs::path(work_dir) / ("test_dets" + suffix + ".json")).string(), results, 1);
  return pooled_folds;
}

namespace {

// The pooled results with each detection kept only when it reaches its own fold's operating
// threshold (fold<r>/fold.json, chosen on that fold's validation part; none: nothing kept).
std::vector<Detection> at_fold_thresholds(const fs::path& dir, const Json& results,
                                          const EvalSet& gt) {
  std::map<int, double> thr;
  Json kept = Json::array();
  for (const auto& d : results) {
    const int r = d.at("fold").get<int>();
    if (!thr.count(r)) {
      const fs::path file = fold_dir(dir.string(), r) / "fold.json";
      const Json t = read_json_file(file.string(), "fold result").at("score_thr");
      thr[r] = t.is_number() ? t.get<double>() : std::numeric_limits<double>::infinity();
    }
    if (d.at("score").get<double>() >= thr[r]) kept.push_back(d);
  }
  return parse_coco_results(kept, gt, (dir / "test_dets.json").string());
}

}  // namespace

std::vector<Detection> pooled_at_fold_thresholds(const std::string& work_dir, const EvalSet& gt) {
  const fs::path file = fs::path(work_dir) / "test_dets.json";
  return at_fold_thresholds(work_dir, read_json_file(file.string(), "pooled test results"), gt);
}

std::string pooled_intervals(const std::string& work_dir, const Json& config,
                             const BootstrapOptions& bootstrap) {
  const fs::path dir(work_dir);
  if (!fs::exists(dir / "test_gt.json") || !fs::exists(dir / "test_dets.json")) return "";
  EvalSet pooled = read_coco_ground_truth((dir / "test_gt.json").string());
  const Json results = read_json_file((dir / "test_dets.json").string(), "pooled test results");
  pooled.detections = parse_coco_results(results, pooled, (dir / "test_dets.json").string());
  const auto metrics = default_bootstrap_metrics();
  const EvalOptions eval = eval_options_from_config(config_at(config, "eval"));
  BootstrapResult intervals = bootstrap_with_froc_band(pooled, eval, metrics, bootstrap);
  // TPR and FPPI at the folds' own operating points, as the per-fold summary reports them; the
  // pooled set's own best point under the FPPI cap is the FROC's Sens@ line.
  EvalSet operating = pooled;
  operating.detections = at_fold_thresholds(dir, results, pooled);
  EvalOptions keep_all = eval;
  keep_all.score_thr = std::numeric_limits<double>::lowest();
  for (auto& [name, interval] :
       bootstrap_intervals(operating, keep_all, {"tpr", "fppi"}, bootstrap))
    intervals.metrics[name] = interval;
  const std::string text = format_intervals(intervals.metrics, metrics, bootstrap);
  write_file_atomic((dir / "intervals.md").string(),
                    "The pooled test parts (" + std::to_string(pooled.image_ids.size()) +
                        " images, each fold's model on its own part; TPR and FPPI at each fold's "
                        "threshold from its validation part)\n" +
                        text);
  write_json_file((dir / "intervals.json").string(), bootstrap_to_json(intervals, bootstrap));
  return text;
}

Json read_pooled_bootstrap(const std::string& work_dir) {
  const fs::path file = fs::path(work_dir) / "intervals.json";
  return fs::exists(file) ? read_json_file(file.string(), "pooled intervals") : Json();
}

std::string compare_test_variants(const std::string& work_dir, const Json& config,
                                  const BootstrapOptions& bootstrap) {
  const fs::path dir(work_dir);
  if (!fs::exists(dir / "test_gt.json") || !fs::exists(dir / "test_dets.json")) return "";
  const EvalSet gt = read_coco_ground_truth((dir / "test_gt.json").string());
  EvalSet single = gt;
  single.detections = read_coco_results((dir / "test_dets.json").string(), gt);
  const EvalOptions eval = eval_options_from_config(config_at(config, "eval"));
  const std::vector<std::string> metrics = {"ap20", "ap50", "cpm", "tpr", "fppi"};
  std::vector<std::vector<std::string>> rows;
  Json out = Json::object();
  const std::map<std::string, std::string> names = {{"_flip", "flip TTA"},
                                                    {"_snapshot", "best+last ensemble"}};
  for (const auto& [suffix, name] : names) {
    const fs::path file = dir / ("test_dets" + suffix + ".json");
    if (!fs::exists(file)) continue;
    EvalSet variant = gt;
    variant.detections = read_coco_results(file.string(), gt);
    const auto paired = paired_bootstrap(single, variant, eval, metrics, bootstrap);
    out[name] = paired_to_json(paired, bootstrap);
    for (const auto& m : metrics) {
      const PairedMetric& p = paired.at(m);
      char difference[80];
      std::snprintf(difference, sizeof difference, "%+.3f [%+.3f, %+.3f]", p.difference.value,
                    p.difference.low, p.difference.high);
      rows.push_back({name, metric_display_name(m), fixed_text(p.a, 3), fixed_text(p.b, 3),
                      difference, fixed_text(p.b_better, 2)});
    }
  }
  if (out.empty()) return "";
  // The folds' own results are those of eval.variant: the single models unless it says otherwise.
  const std::string variant = config_at(config, "eval").value("variant", std::string("single"));
  const std::string evaluated =
      variant == "single" ? "single model" : "evaluated model (eval.variant " + variant + ")";
  const std::string text = markdown_table({"variant - " + evaluated, "metric", "evaluated",
                                           "variant", "difference [95% CI]", "P(better)"},
                                          rows);
  write_file_atomic(
      (dir / "variants.md").string(),
      "Test-time variants of each fold's best.ckpt against the " + evaluated +
          " on the pooled test parts (paired patient-level bootstrap, " +
          std::to_string(bootstrap.resamples) + " resamples, seed " +
          std::to_string(bootstrap.seed) +
          ").\nTPR and FPPI here are at the best TPR under eval.fppi_cap on the pooled "
          "test parts themselves, for both columns: the variants have no validation "
          "detections to choose a threshold on, so these are not operating points "
          "(summary.md has those).\n\n" +
          text);
  write_json_file((dir / "variants.json").string(), out);
  return text;
}

}  // namespace mbmd::engine
