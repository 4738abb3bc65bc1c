#include "mbmd/engine/cv.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <map>
#include <sstream>

#include "mbmd/core/error.h"
#include "mbmd/data/image_io.h"
#include "mbmd/data/split.h"
#include "mbmd/engine/data_pipeline.h"
#include "mbmd/engine/predictor.h"

namespace mbmd::engine {
namespace fs = std::filesystem;
namespace {

// IoU threshold of "apNN", or -1.
double ap_metric_iou(const std::string& name) {
  if (name.size() < 3 || name.size() > 5 || name.compare(0, 2, "ap") != 0) return -1.0;
  const std::string digits = name.substr(2);
  if (digits.find_first_not_of("0123456789") != std::string::npos) return -1.0;
  const double value = std::stod(digits) / 100.0;
  return value > 0.0 && value <= 1.0 ? value : -1.0;
}

// FPPI of "sens@F", or -1.
double sens_metric_fppi(const std::string& name) {
  if (name.rfind("sens@", 0) != 0) return -1.0;
  try {
    size_t used = 0;
    const std::string text = name.substr(5);
    const double value = std::stod(text, &used);
    return used == text.size() && value > 0.0 ? value : -1.0;
  } catch (const std::exception&) {
    return -1.0;
  }
}

const std::vector<std::string>& field_metrics() {
  static const std::vector<std::string> names = {"ap50_small", "ap50_medium",    "ap50_large",
                                                 "tpr",        "fppi",           "cpm",
                                                 "score_thr",  "true_positives", "false_positives",
                                                 "num_images", "num_masses",     "num_detections"};
  return names;
}

std::string display_name(const std::string& name) {
  if (const double iou = ap_metric_iou(name); iou > 0) return "AP@" + name.substr(2);
  if (sens_metric_fppi(name) > 0) return "Sens@" + name.substr(5) + " FPPI";
  static const std::map<std::string, std::string> names = {{"ap50_small", "AP@50 S"},
                                                           {"ap50_medium", "AP@50 M"},
                                                           {"ap50_large", "AP@50 L"},
                                                           {"tpr", "TPR"},
                                                           {"fppi", "FPPI"},
                                                           {"cpm", "CPM"},
                                                           {"score_thr", "score threshold"}};
  const auto it = names.find(name);
  return it == names.end() ? name : it->second;
}

std::string fixed4(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", value);
  return text;
}

Json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot be read");
  const Json j = Json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw Error(path + ": not valid JSON");
  return j;
}

void write_json_file(const std::string& path, const Json& j) {
  data::write_file_atomic(path, j.dump(2) + "\n");
}

Json fold_json(const FoldResult& f) {
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

}  // namespace

std::vector<std::string> default_cv_metrics() {
  return {"ap20", "ap50", "ap75", "ap50_small", "ap50_medium", "ap50_large", "tpr", "fppi", "cpm"};
}

void check_metric_name(const std::string& name) {
  if (ap_metric_iou(name) > 0 || sens_metric_fppi(name) > 0) return;
  const auto& fields = field_metrics();
  if (std::find(fields.begin(), fields.end(), name) != fields.end()) return;
  std::string known;
  for (const auto& f : fields) known += ", " + f;
  throw Error("unknown metric '" + name + "': use apNN (e.g. ap50), sens@F (e.g. sens@0.5)" +
              known);
}

double metric_value(const Json& metrics, const std::string& name) {
  check_metric_name(name);
  const Json* value = nullptr;
  std::string where;
  if (const double iou = ap_metric_iou(name); iou > 0) {
    where = "ap." + threshold_text(iou);
    if (metrics.contains("ap") && metrics["ap"].contains(threshold_text(iou)))
      value = &metrics["ap"][threshold_text(iou)];
  } else if (const double fppi = sens_metric_fppi(name); fppi > 0) {
    where = "sensitivity_at." + threshold_text(fppi);
    if (metrics.contains("sensitivity_at") &&
        metrics["sensitivity_at"].contains(threshold_text(fppi)))
      value = &metrics["sensitivity_at"][threshold_text(fppi)];
  } else {
    where = name;
    if (metrics.contains(name)) value = &metrics[name];
  }
  if (!value)
    throw Error("metric '" + name + "': the evaluation has no '" + where +
                "' (for apNN add the threshold to eval.iou_thrs)");
  if (value->is_null()) return -1.0;  // e.g. an infinite score threshold
  if (!value->is_number()) throw Error("metric '" + name + "' is not a number");
  return value->get<double>();
}

SetEvaluation evaluate_samples(model::FasterRCNNImpl& model, const Json& config,
                               const std::vector<data::Sample>& samples,
                               std::optional<double> score_thr,
                               const std::vector<double>& extra_iou_thrs) {
  SetEvaluation out;
  out.samples = usable_samples(samples);
  if (out.samples.empty()) throw Error("evaluation: no images to evaluate");
  DataPipeline pipeline(out.samples, pipeline_options_from_config(config, /*train=*/false));
  out.detections.resize(out.samples.size());
  run_detector(model, pipeline,
               [&](const ImageResult& r) { out.detections[r.sample] = r.detections; });
  EvalSet set = make_eval_set(out.samples, out.detections);

  // Areas at the model's input scale (short side eval.area_scale_short_side) for S / M / L.
  const double short_side = config_at(config, "eval.area_scale_short_side").get<double>();
  if (short_side > 0) {
    std::map<std::string, double> factor;
    for (const auto& s : out.samples) {
      const double shortest = std::min(s.width, s.height);
      factor[s.image_id] = shortest > 0 ? short_side / shortest : 1.0;
    }
    for (auto& gt : set.ground_truths) {
      const double f = factor[gt.image_id];
      gt.area = (gt.box[2] - gt.box[0]) * (gt.box[3] - gt.box[1]) * f * f;
    }
  }
  EvalOptions options = eval_options_from_config(config_at(config, "eval"));
  for (double thr : extra_iou_thrs) {
    bool listed = false;
    for (double t : options.iou_thrs) listed |= std::abs(t - thr) < 1e-9;
    if (!listed) options.iou_thrs.push_back(thr);
  }
  if (score_thr)
    // An infinite threshold (validation found none under the FPPI cap) detects nothing.
    options.score_thr = std::isfinite(*score_thr) ? *score_thr : std::numeric_limits<double>::max();
  out.result = evaluate(set, options);
  return out;
}

FoldResult run_fold(const Json& config, const std::string& work_dir, const FoldOptions& options,
                    SetEvaluation* test_out) {
  FoldResult fold;
  fold.permutation = config_at(config, "data.permutation").get<int>();
  fold.work_dir = work_dir;
  const fs::path dir(work_dir);
  auto say = [&](const std::string& text) {
    if (options.progress) std::cerr << text << "\n" << std::flush;
  };

  TrainOptions train_options;
  train_options.work_dir = work_dir;
  train_options.resume = options.resume && fs::exists(dir / "last.ckpt");
  train_options.progress = options.progress;
  fold.train = train(config, train_options);
  fold.checkpoint =
      fold.train.best_checkpoint.empty() ? fold.train.last_checkpoint : fold.train.best_checkpoint;

  const data::Dataset dataset = read_dataset_from_config(config);
  const DataParts parts = split_dataset(config, dataset);
  fold.train_images = static_cast<int>(parts.train.size());
  fold.val_images = static_cast<int>(parts.val.size());
  fold.test_images = static_cast<int>(parts.test.size());
  LoadedDetector detector = load_detector(fold.checkpoint, config);

  // The operating threshold comes from the validation part; without one, from the config or,
  // failing that, from the test part itself (said in the report).
  std::optional<double> thr;
  const double given = config_at(config, "eval.score_thr").get<double>();
  if (given >= 0) thr = given;
  std::string threshold_origin = thr ? "given (eval.score_thr)" : "chosen on the validation part";
  if (!parts.val.empty()) {
    say("evaluating " + fold.checkpoint + " on " + std::to_string(parts.val.size()) +
        " validation images");
    const SetEvaluation val =
        evaluate_samples(*detector.model, config, parts.val, thr, options.extra_iou_thrs);
    fold.val_metrics = to_json(val.result);
    if (!thr) thr = val.result.operating_point.score_thr;
  } else if (!thr) {
    threshold_origin = "chosen on the test part (no validation part)";
  }
  if (parts.test.empty())
    throw Error("permutation " + std::to_string(fold.permutation) + ": the test part is empty");
  say("evaluating on " + std::to_string(parts.test.size()) + " test images");
  SetEvaluation test =
      evaluate_samples(*detector.model, config, parts.test, thr, options.extra_iou_thrs);
  if (thr && !std::isfinite(*thr))  // evaluated at the largest double: report it as infinite
    test.result.operating_point.score_thr = std::numeric_limits<double>::infinity();
  fold.test_metrics = to_json(test.result);
  fold.score_thr = test.result.operating_point.score_thr;
  if (!thr) fold.val_metrics = Json();

  write_json_file((dir / "val_metrics.json").string(), fold.val_metrics);
  write_json_file((dir / "test_metrics.json").string(), fold.test_metrics);
  Json dets = Json::array();
  for (size_t i = 0; i < test.samples.size(); ++i)
    for (auto& d : coco_results(test.samples[i].image_id, test.detections[i]))
      dets.push_back(std::move(d));
  write_json_file((dir / "test_dets.json").string(), dets);

  Report extra;
  extra.title = "mbmd fold " + std::to_string(fold.permutation) + ": " + dir.filename().string();
  extra.facts.push_back({"evaluated checkpoint", fold.checkpoint});
  extra.facts.push_back({"images", std::to_string(fold.train_images) + " train, " +
                                       std::to_string(fold.val_images) + " validation, " +
                                       std::to_string(fold.test_images) + " test"});
  extra.facts.push_back({"operating threshold",
                         (std::isfinite(fold.score_thr) ? fixed4(fold.score_thr)
                                                        : std::string("none (nothing detected)")) +
                             ", " + threshold_origin});
  std::vector<std::string> columns;
  std::vector<Json> metrics;
  if (!fold.val_metrics.is_null()) {
    columns.push_back("validation");
    metrics.push_back(fold.val_metrics);
  }
  columns.push_back("test");
  metrics.push_back(fold.test_metrics);
  extra.tables.push_back(metrics_table("Evaluated checkpoint", columns, metrics));
  PlotOptions fo;
  fo.title = "FROC";
  fo.x_label = "false positives per image";
  fo.y_label = "sensitivity";
  fo.log_x = true;
  std::vector<PlotSeries> curves;
  for (size_t i = 0; i < metrics.size(); ++i) curves.push_back(froc_series(columns[i], metrics[i]));
  extra.figures.push_back(
      {"FROC of the evaluated checkpoint (sensitivity against false "
       "positives per image, log scale).",
       svg_line_plot(curves, fo)});
  const EvalOptions eo = test.result.options;
  extra.overlays = pick_overlays(test.samples, test.detections, fold.score_thr, eo.hit, eo.hit_iou,
                                 options.overlays);
  extra.notes.push_back(
      "Test-part films at the operating threshold. TPR and FPPI use the hit rule '" +
      to_string(eo.hit) + "'" +
      (eo.hit == HitRule::kIou ? " with IoU >= " + threshold_text(eo.hit_iou) : std::string()) +
      "; AP areas (S/M/L) are measured at short side " +
      config_at(config, "eval.area_scale_short_side").dump() + ".");
  write_train_report(work_dir, extra);
  if (test_out) *test_out = std::move(test);
  return fold;
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
  return fixed4(s.mean) + " (" + fixed4(s.std) + ")";
}

std::string summary_markdown(const std::vector<MetricSummary>& summary) {
  std::ostringstream md;
  const size_t folds = summary.empty() ? 0 : summary.front().values.size();
  md << "| metric |";
  for (size_t f = 0; f < folds; ++f) md << " fold " << f << " |";
  md << " mean (std) |\n|---|";
  for (size_t f = 0; f < folds; ++f) md << "---:|";
  md << "---:|\n";
  for (const auto& s : summary) {
    md << "| " << display_name(s.name) << " |";
    for (double v : s.values) md << " " << (v >= 0 ? fixed4(v) : "n/a") << " |";
    md << " " << mean_std_text(s) << " |\n";
  }
  return md.str();
}

std::string summary_csv(const std::vector<MetricSummary>& summary) {
  std::ostringstream csv;
  const size_t folds = summary.empty() ? 0 : summary.front().values.size();
  csv << "metric,mean,std,defined";
  for (size_t f = 0; f < folds; ++f) csv << ",fold" << f;
  csv << "\n";
  for (const auto& s : summary) {
    csv << s.name << "," << (s.defined ? fixed4(s.mean) : "") << ","
        << (s.defined ? fixed4(s.std) : "") << "," << s.defined;
    for (double v : s.values) csv << "," << (v >= 0 ? fixed4(v) : "");
    csv << "\n";
  }
  return csv.str();
}

CvResult run_cv(const Json& config, const CvOptions& options) {
  // ---- Checks before any training. ----
  if (options.work_dir.empty()) throw Error("cv needs a work dir");
  const fs::path dir(options.work_dir);
  if (fs::exists(dir) && !fs::is_directory(dir))
    throw Error("work dir " + options.work_dir + " is a file, not a folder");
  const std::vector<std::string> names =
      options.metrics.empty() ? default_cv_metrics() : options.metrics;
  std::vector<double> iou_thrs;
  for (const auto& n : names) {
    check_metric_name(n);
    if (const double iou = ap_metric_iou(n); iou > 0) iou_thrs.push_back(iou);
  }
  check_best_metric(config_at(config, "train.best_metric").get<std::string>());
  if (!options.resume) {
    if (fs::exists(dir / "summary.json") || fs::exists(dir / "fold0"))
      throw Error("work dir " + options.work_dir +
                  " already holds a cross-validation run: continue it with --resume or choose "
                  "another --work-dir");
  }
  const data::Dataset dataset = read_dataset_from_config(config);
  const std::vector<data::Sample> usable = usable_samples(dataset.samples);
  if (usable.empty())
    throw Error("the dataset is empty: data.dataset \"" +
                config_at(config, "data.dataset").get<std::string>() + "\" (" +
                config_at(config, "data.ann_file").get<std::string>() +
                config_at(config, "data.root").get<std::string>() + ") gave no usable images");

  const std::string split_path = (dir / "split.json").string();
  data::Split split;
  std::string split_origin;
  if (!options.split_file.empty()) {
    split = data::read_split(options.split_file);
    split_origin = options.split_file;
  } else if (options.resume && fs::exists(split_path)) {
    split = data::read_split(split_path);
    split_origin = split_path + " (kept from the run)";
  } else {
    split = data::make_split(dataset.samples, config_at(config, "data.split_seed").get<uint64_t>(),
                             dataset.root);
    split_origin = "made with data.split_seed " + config_at(config, "data.split_seed").dump();
  }
  data::check_split(split, dataset.samples);
  const int parts = static_cast<int>(split.parts.size());
  if (parts < 3)
    throw Error("a cross-validation split needs at least 3 parts, got " + std::to_string(parts));
  if (options.folds < 1 || options.folds > parts)
    throw Error("--folds must be in 1.." + std::to_string(parts) + ", got " +
                std::to_string(options.folds));
  for (int r = 0; r < options.folds; ++r) {
    const data::Fold fold = data::split_fold(split, r);
    const auto count = [&](const std::vector<std::string>& ids) {
      return usable_samples(data::select_samples(dataset.samples, ids)).size();
    };
    if (count(fold.train) == 0 || count(fold.val) == 0 || count(fold.test) == 0)
      throw Error("permutation " + std::to_string(r) + " has an empty part (" +
                  std::to_string(count(fold.train)) + " train, " + std::to_string(count(fold.val)) +
                  " validation, " + std::to_string(count(fold.test)) + " test images): the " +
                  "dataset has too few patients for " + std::to_string(parts) + " parts");
  }

  // ---- The run. ----
  fs::create_directories(dir);
  data::write_split(split_path, split);
  data::write_file_atomic((dir / "config.json").string(), config.dump(2) + "\n");
  CvResult result;
  result.split_file = split_path;
  result.summary_md = (dir / "summary.md").string();
  result.summary_csv = (dir / "summary.csv").string();
  result.summary_json = (dir / "summary.json").string();
  result.report = (dir / "report.html").string();

  auto write_summary = [&]() {
    std::vector<Json> test_metrics;
    for (const auto& f : result.folds) test_metrics.push_back(f.test_metrics);
    result.summary = summarize_folds(test_metrics, names);
    std::ostringstream md;
    md << "# Cross-validation: " << config_at(config, "model.neck.type").get<std::string>()
       << " neck, ResNet-" << config_at(config, "model.backbone.depth").dump() << "\n\n"
       << "Test parts of " << result.folds.size() << " of " << options.folds
       << " permutations (test = part r, validation = part r+1, training = the rest); "
       << "mean (std over folds, ddof 0). TPR and FPPI at the score threshold chosen on each "
       << "fold's validation part. Split: " << split_origin << ".\n\n"
       << summary_markdown(result.summary);
    data::write_file_atomic(result.summary_md, md.str());
    data::write_file_atomic(result.summary_csv, summary_csv(result.summary));
    Json j;
    j["format"] = "mbmd-cv";
    j["folds_planned"] = options.folds;
    j["metrics"] = names;
    j["split_file"] = split_path;
    j["summary"] = Json::object();
    for (const auto& s : result.summary)
      j["summary"][s.name] = {{"mean", s.defined ? Json(s.mean) : Json()},
                              {"std", s.defined ? Json(s.std) : Json()},
                              {"values", s.values},
                              {"defined", s.defined}};
    j["folds"] = Json::array();
    for (const auto& f : result.folds) j["folds"].push_back(fold_json(f));
    write_json_file(result.summary_json, j);

    Report report;
    report.title = "mbmd cross-validation: " + dir.filename().string();
    report.facts.push_back({"model", "ResNet-" + config_at(config, "model.backbone.depth").dump() +
                                         " + " + config_at(config, "model.neck.type").dump() +
                                         " neck, input " +
                                         config_at(config, "input.scale").dump()});
    report.facts.push_back({"data", dataset.name + ", " + std::to_string(usable.size()) +
                                        " images, " + std::to_string(parts) + " parts"});
    report.facts.push_back({"split", split_origin});
    report.facts.push_back({"folds done", std::to_string(result.folds.size()) + " of " +
                                              std::to_string(options.folds)});
    ReportTable table;
    table.title = "Test parts: mean (std) over folds";
    table.header = {"metric"};
    for (const auto& f : result.folds)
      table.header.push_back("fold " + std::to_string(f.permutation));
    table.header.push_back("mean (std)");
    for (const auto& s : result.summary) {
      std::vector<std::string> row{display_name(s.name)};
      for (double v : s.values) row.push_back(v >= 0 ? fixed4(v) : "n/a");
      row.push_back(mean_std_text(s));
      table.rows.push_back(std::move(row));
    }
    report.tables.push_back(table);
    std::vector<PlotSeries> curves;
    for (const auto& f : result.folds)
      curves.push_back(froc_series("fold " + std::to_string(f.permutation), f.test_metrics));
    PlotOptions fo;
    fo.title = "FROC of the test parts";
    fo.x_label = "false positives per image";
    fo.y_label = "sensitivity";
    fo.log_x = true;
    report.figures.push_back({"FROC of each fold's test part.", svg_line_plot(curves, fo)});
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
                             f.train.best_metric + " " + fixed4(f.train.best_value) + " at epoch " +
                             std::to_string(f.train.best_epoch) + ")");
    write_report(result.report, report);
  };

  for (int r = 0; r < options.folds; ++r) {
    const fs::path fold_dir = dir / ("fold" + std::to_string(r));
    const fs::path fold_file = fold_dir / "fold.json";
    if (options.resume && fs::exists(fold_file)) {
      result.folds.push_back(fold_from_json(read_json_file(fold_file.string())));
      if (options.progress) std::cerr << "fold " << r << ": done before, kept\n";
      continue;
    }
    Json fold_config = config;
    fold_config["data"]["split"] = "cv";
    fold_config["data"]["split_file"] = split_path;
    fold_config["data"]["permutation"] = r;
    if (options.progress)
      std::cerr << "fold " << r << " of " << options.folds << " (permutation " << r
                << "): " << fold_dir.string() << "\n";
    FoldOptions fold_options;
    fold_options.resume = options.resume;
    fold_options.progress = options.progress;
    fold_options.overlays = options.overlays;
    fold_options.extra_iou_thrs = iou_thrs;
    FoldResult fold = run_fold(fold_config, fold_dir.string(), fold_options);
    write_json_file(fold_file.string(), fold_json(fold));
    result.folds.push_back(std::move(fold));
    write_summary();
  }
  write_summary();
  return result;
}

}  // namespace mbmd::engine
