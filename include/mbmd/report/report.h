// report.html for every run directory (issue 4): a metrics table, the FROC curve, loss and
// learning-rate curves from log.jsonl, and a few overlays of hits and misses. One self-contained
// file: plots are inline SVG, pictures base64 PNG inside SVG, no scripts, no external links, so it
// reads offline in any browser.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "mbmd/core/config.h"
#include "mbmd/data/sample.h"
#include "mbmd/eval/froc.h"
#include "mbmd/eval/types.h"
#include "mbmd/model/roi_head.h"

namespace mbmd::engine {

// ---- Small pieces. ----

std::string html_escape(const std::string& text);
std::string base64_encode(const std::string& bytes);
// An 8-bit grey PNG of `grey` (float [H, W], 0..255) as bytes, through the data layer's writer.
std::string encode_png(const at::Tensor& grey);

struct PlotSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in this order
  // An interval around the line, (x, low, high), shaded in the series' colour under every line
  // (drawn when it has two points or more, in x order), and what it is ("95% CI, patient-level
  // bootstrap (1000 resamples)"; the legend shows it up to the first comma).
  std::vector<std::array<double, 3>> band;
  std::string band_label;
};

struct PlotOptions {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log_x = false;  // base 2 ticks (FROC); non-positive x are left out
  bool log_y = false;  // base 10 ticks (learning rate); non-positive y are left out
  int width = 460;
  int height = 280;
};

// A line plot as an <svg> element: axes with ticks, one coloured line per series (over its
// band, when it has one), a legend. Non-finite points are skipped; an empty plot says "no data".
std::string svg_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& options);

struct ReportTable {
  std::string title;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};
std::string html_table(const ReportTable& table);

// A film with its ground truth and detections. Detections at or above `score_thr` are drawn:
// blue when they hit a mass, red when they hit none; masses are green (dashed when missed).
struct ReportOverlay {
  std::string caption;
  at::Tensor grey;  // float [H, W], 0..255, original pixels
  std::vector<Box> ground_truth;
  std::vector<bool> found;  // per ground truth: hit at the operating threshold
  std::vector<std::pair<Box, double>> detections;  // (box, score), original pixels
  std::vector<bool> hits;                          // per detection: hits a mass
};
// The overlay as an <svg> with the film (downscaled to at most `max_side` pixels) embedded.
std::string svg_overlay(const ReportOverlay& overlay, int max_side = 300);

// Up to `count` overlays from an evaluated set: films where every mass was found, films with a
// missed mass, and a normal film with false positives when there is one, in that order of
// preference (about half hits, half misses). Films are decoded from their files. detections[i]
// belongs to samples[i]; only detections with score >= score_thr are drawn and judged.
std::vector<ReportOverlay> pick_overlays(const std::vector<data::Sample>& samples,
                                         const std::vector<model::Detections>& detections,
                                         double score_thr, HitRule hit, double hit_iou, int count);

// ---- The report. ----

struct Report {
  std::string title;
  std::vector<std::pair<std::string, std::string>> facts;  // shown as a definition list
  std::vector<ReportTable> tables;
  std::vector<std::pair<std::string, std::string>> figures;  // (caption, svg)
  std::vector<ReportOverlay> overlays;
  std::vector<std::string> notes;  // paragraphs at the end
};

std::string render_html(const Report& report);
// Writes render_html(report) atomically.
void write_report(const std::string& path, const Report& report);

// ---- Pieces built from a run's files. ----

// The entries of a log.jsonl (see trainer.h): "train" steps and "val" validations; a missing
// file gives none, unreadable lines are skipped.
struct TrainLog {
  std::vector<Json> steps;
  std::vector<Json> validations;
};
TrainLog read_train_log(const std::string& path);

// Figures of a training log: each loss part and the total against the iteration, the learning
// rate, and the validation metric against the epoch (when validations ran).
std::vector<std::pair<std::string, std::string>> training_figures(const TrainLog& log);

// Rows "metric | value per column" for metric objects as mbmd::engine::to_json writes them
// (AP at each threshold, AP@50 S/M/L, TPR, FPPI, threshold, CPM, sensitivity at each FPPI).
ReportTable metrics_table(const std::string& title, const std::vector<std::string>& columns,
                          const std::vector<Json>& metrics);

// The FROC curve of a to_json metric object ("froc": [[fppi, sensitivity], ...]), with the band
// of its bootstrap intervals when the object carries them ("bootstrap", as `mbmd eval --bootstrap
// N --json` writes it; see froc_band_series).
PlotSeries froc_series(const std::string& name, const Json& metrics);

// The band of a bootstrap object (intervals_to_json of eval/bootstrap.h: "resamples", "level",
// "metrics", and "froc_band" when computed) as a FROC series: the curve through its points on
// the set, the band through their intervals. From "froc_band" when it is there, otherwise through
// the "sens@F" intervals of "metrics"; points without an interval are left out.
PlotSeries froc_band_series(const std::string& name, const Json& bootstrap);

// Rows "metric | value | 95% CI" of a bootstrap object's "metrics" (as above), in the order of
// `mbmd eval --bootstrap`; "n/a" where a value or its interval is undefined.
ReportTable intervals_table(const std::string& title, const Json& bootstrap);

// "95% CI, patient-level bootstrap (1000 resamples)" for a bootstrap object.
std::string bootstrap_band_label(const Json& bootstrap);

// An <svg> FROC plot of `curves` (log-scale FPPI axis).
std::string froc_plot(const std::vector<PlotSeries>& curves, const std::string& title = "FROC");

// `caption`, with " Shaded: <band label>." when one of `curves` has a band.
std::string froc_caption(const std::string& caption, const std::vector<PlotSeries>& curves);

// Adds a checkpoint's evaluation to `report`: a metrics table titled `table_title` with a
// validation column (when `val_metrics` is not null) and a test column, and their FROC curves
// captioned `froc_caption`.
void add_checkpoint_evaluation(Report& report, const std::string& table_title,
                               const std::string& froc_caption, const Json& val_metrics,
                               const Json& test_metrics);

// A report for a `mbmd train` work dir: the config's main settings (config.json), the training
// curves (log.jsonl), the last validation's metrics and FROC. Writes `work_dir`/report.html and
// returns its path; `extra` is appended (tables, figures, overlays).
std::string write_train_report(const std::string& work_dir, const Report& extra = {});

}  // namespace mbmd::engine
