// Cross-validation as the paper does it (docs/design.md, "Protocol"), behind `mbmd cv` and
// `mbmd demo`: a patient-grouped split into five parts (made once and kept as DIR/split.json, or
// read from a file), and for each permutation r: train on three parts into DIR/fold{r}/, keep the
// best checkpoint by the validation metric (train.best_metric, AP@50 by default), choose the
// operating score threshold on the validation part (the best TPR at FPPI <= eval.fppi_cap, unless
// eval.score_thr gives one), and evaluate the test part at that threshold. The summary gives each
// metric as mean (std) over the folds, as the paper's tables, in Markdown, CSV and JSON.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mbmd/core/config.h"
#include "mbmd/data/sample.h"
#include "mbmd/eval/evaluate.h"
#include "mbmd/eval/metric_names.h"
#include "mbmd/model/detector.h"
#include "mbmd/report/report.h"
#include "mbmd/train/trainer.h"

namespace mbmd::engine {

// Detections of a model on samples and their evaluation.
struct SetEvaluation {
  std::vector<data::Sample> samples;
  std::vector<model::Detections> detections;  // detections[i] belongs to samples[i]
  EvalResult result;
};

// Runs `model` over `samples` (the config's input and loader settings, no flips) and evaluates
// with the config's `eval` section; `score_thr` fixes the operating threshold (otherwise the
// config's, or the best TPR at FPPI <= eval.fppi_cap). Ground-truth areas for AP small / medium /
// large are measured at eval.area_scale_short_side (0: original pixels), as
// docs/design.md, "Metrics" says.
SetEvaluation evaluate_samples(model::FasterRCNNImpl& model, const Json& config,
                               const std::vector<data::Sample>& samples,
                               std::optional<double> score_thr = std::nullopt,
                               const std::vector<double>& extra_iou_thrs = {});

// Detections of the given (usable) samples, one per sample in order.
using SampleDetector =
    std::function<std::vector<model::Detections>(const std::vector<data::Sample>&)>;

// As above, with the detections `detect` gives (a merged variant of a model, say).
SetEvaluation evaluate_samples(const SampleDetector& detect, const Json& config,
                               const std::vector<data::Sample>& samples,
                               std::optional<double> score_thr = std::nullopt,
                               const std::vector<double>& extra_iou_thrs = {});

struct FoldOptions {
  bool resume = false;                 // continue a fold's run from its last.ckpt
  bool progress = true;                // the trainer's progress line and the fold's steps on stderr
  int overlays = 6;                    // overlay pictures of hits and misses in the fold's report
  std::vector<double> extra_iou_thrs;  // AP thresholds evaluated besides eval.iou_thrs
};

struct FoldResult {
  int permutation = 0;
  std::string work_dir;
  TrainResult train;
  std::string checkpoint;  // the one evaluated: best.ckpt, or last.ckpt without validation
  Json val_metrics;        // to_json of the validation part (operating threshold chosen there)
  Json test_metrics;       // to_json of the test part at the validation's threshold
  double score_thr = 0;    // the operating threshold (+infinity: nothing detected)
  int train_images = 0, val_images = 0, test_images = 0;
};

// One permutation: `config` must already name the split (data.split "cv", data.split_file,
// data.permutation). Trains into `work_dir`, then writes val_metrics.json, test_metrics.json,
// test_dets.json (COCO results, all scores) and report.html there.
FoldResult run_fold(const Json& config, const std::string& work_dir, const FoldOptions& options,
                    SetEvaluation* test = nullptr);

// A fold trained before (`fold` as its fold.json keeps it), evaluated again with `config`'s eval
// section: its metrics, test results and report are written anew; training is untouched.
FoldResult reevaluate_fold(const Json& config, FoldResult fold, const FoldOptions& options);

struct CvOptions {
  std::string work_dir;
  int folds = 5;           // permutations 0..folds-1 of the five parts
  std::string split_file;  // read the parts from here; otherwise DIR/split.json (made if absent)
  std::vector<std::string> metrics;  // empty: default_cv_metrics()
  bool resume = false;               // keep finished folds, resume an unfinished one
  // With resume: evaluate the finished folds again with the config's eval section (which may
  // differ from the run's), without training them again.
  bool reevaluate = false;
  bool progress = true;
  int overlays = 6;
};

struct MetricSummary {
  std::string name;
  std::vector<double> values;  // per fold, -1 where undefined
  double mean = -1, std = -1;  // over the defined values; std as numpy's default (ddof 0)
  int defined = 0;
};

struct CvResult {
  std::vector<FoldResult> folds;
  std::vector<MetricSummary> summary;
  std::string split_file;
  std::string summary_md, summary_csv, summary_json, report;  // paths written
  // The pooled test parts' metrics with bootstrap intervals (DIR/intervals.md); empty when none.
  std::string intervals;
  // DIR/intervals.json: those intervals and the FROC band (eval/bootstrap.h); null when none.
  Json pooled_bootstrap;
  // Flip TTA and the best+last ensemble against the single models on the pooled test parts, a
  // markdown table (DIR/variants.md); empty when not measured.
  std::string variants;
};

// Everything is checked before any training: a work dir that is a file, a dataset without
// images, a split file that does not fit the dataset, a fold count outside 1..5, an unknown
// metric, a DIR that already holds a cv run without `resume` are mbmd::Error.
CvResult run_cv(const Json& config, const CvOptions& options);

// What a cross-validation run is, for its summary and report.
struct CvRun {
  Json config;
  std::string work_dir;
  int folds_planned = 0;
  std::vector<std::string> metrics;  // the summary's rows
  std::string split_file;            // DIR/split.json
  std::string split_origin;          // where the parts came from, in words
  std::string dataset_name;
  int usable_images = 0;
  int parts = 0;
};

// Writes summary.md, summary.csv, summary.json and report.html of the folds in `result` (and
// fills result.summary).
void write_cv_summary(const CvRun& run, CvResult& result);

// Writes report.html of the folds in `result`: their table, their FROC curves and, once the run
// has result.pooled_bootstrap, the pooled test parts' FROC with its 95% band.
void write_cv_report(const CvRun& run, const CvResult& result);

// A fold's record in fold.json and summary.json, and back.
Json fold_to_json(const FoldResult& fold);
FoldResult fold_from_json(const Json& j);

std::vector<MetricSummary> summarize_folds(const std::vector<Json>& fold_metrics,
                                           const std::vector<std::string>& names);
// "0.3960 (0.0123)"; "n/a" when no fold defines it.
std::string mean_std_text(const MetricSummary& summary);
// | metric | fold 0 | ... | mean (std) | as Markdown; metric,mean,std,fold0,... as CSV.
std::string summary_markdown(const std::vector<MetricSummary>& summary);
std::string summary_csv(const std::vector<MetricSummary>& summary);

// ---- `mbmd cv --repeats K` (docs/commands.md, "mbmd cv"): the whole protocol K times. ----

// A metric over the repeats: each repeat's mean over its folds, their mean, sd (ddof 0), min and
// max over the repeats that define it, and every fold of every repeat pooled as one set of folds.
struct RepeatSummary {
  std::string name;
  std::vector<double> repeat_means;  // per repeat, -1 where no fold defines it
  double mean = -1, sd = -1, min = -1, max = -1;
  int repeats_defined = 0;
  MetricSummary pooled;  // values: every fold in repeat order
};

struct RepeatedCvResult {
  std::vector<CvResult> repeats;      // repeat r ran in DIR/repeat_r/
  std::vector<uint64_t> split_seeds;  // data.split_seed + r
  std::vector<RepeatSummary> summary;
  std::string summary_md, summary_csv, summary_json, report;  // DIR's, over the repeats
};

// Repeat r = 0..repeats-1 is run_cv with data.split_seed + r in DIR/repeat_r/. Every repeat is
// checked before any training (with run_cv's checks, and: repeats >= 1, no split_file, DIR not a
// single cross-validation); with options.resume a repeat whose summary lists every fold and that
// has its intervals and variants is kept, not rerun. DIR gets summary.md, summary.csv,
// summary.json and report.html over the repeats, rewritten after each one.
RepeatedCvResult run_repeated_cv(const Json& config, const CvOptions& options, int repeats);

std::vector<RepeatSummary> summarize_repeats(const std::vector<CvResult>& repeats,
                                             const std::vector<std::string>& names);
// | metric | repeat 0 | ... | mean (sd) | min .. max | all folds, mean (std) | as Markdown;
// metric,mean,sd,min,max,repeats_defined,pooled_mean,pooled_std,pooled_defined,repeat0,... as CSV.
std::string repeats_markdown(const std::vector<RepeatSummary>& summary);
std::string repeats_csv(const std::vector<RepeatSummary>& summary);

}  // namespace mbmd::engine
