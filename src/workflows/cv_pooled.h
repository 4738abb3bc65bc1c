// The test parts of a cross-validation run pooled (docs/training.md, "Cross-validation"): every
// image is in exactly one test part, so the folds' test results together cover the dataset once.
// DIR/test_gt.json is their COCO ground truth (ids 1..N in fold order, image_name the dataset's
// id), DIR/test_dets.json the folds' test results on those ids (each with its "fold"): what
// `mbmd compare` and pycocotools read, and what `mbmd predict --gt` maps other runs onto.
//
// Beside the single models, two test-time variants of each fold's model on its own test part
// (no fold ever sees another fold's test part): "flip" (the image and its mirror, merged by
// weighted box fusion) and "snapshot" (the fold's best.ckpt and last.ckpt, merged the same way).
// An ensemble of the five folds' models cannot be scored on the run's own test parts, since each
// test part trained or selected four of them; it is for new data (mbmd predict with the five
// best.ckpt).
#pragma once

#include <string>
#include <vector>

#include "mbmd/core/config.h"
#include "mbmd/data/dataset.h"
#include "mbmd/data/split.h"
#include "mbmd/eval/bootstrap.h"

namespace mbmd::engine {

// The variants' names and the suffix of their results files: "" (single model), "_flip",
// "_snapshot" (fold<r>/test_dets<suffix>.json, DIR/test_dets<suffix>.json).
const std::vector<std::string>& test_variants();

// Writes fold<r>/test_dets_flip.json and test_dets_snapshot.json for each finished fold that
// lacks them (kept on --resume), from the fold's checkpoints on its test part.
void write_fold_variants(const std::string& work_dir, const data::Dataset& dataset,
                         const data::Split& split, int folds, bool progress);

// Writes the pooled ground truth and one pooled results file per variant that every pooled fold
// has; returns the number of folds pooled (0: nothing written).
int write_pooled_test_results(const std::string& work_dir, const data::Dataset& dataset,
                              const data::Split& split, int folds);

// The metrics of the pooled test parts (the single models) with 95% patient-level bootstrap
// intervals (eval's), with the run's eval settings: the table, also written to DIR/intervals.md
// and DIR/intervals.json (with the FROC band). Empty when nothing is pooled. TPR and FPPI are at
// each fold's own operating threshold (fold<r>/fold.json, chosen on its validation part), as in
// the per-fold summary; AP, CPM and the FROC need no threshold.
std::string pooled_intervals(const std::string& work_dir, const Json& config,
                             const BootstrapOptions& bootstrap);

// The pooled single-model results of the cv run in `work_dir` (DIR/test_dets.json) on `gt` (its
// test_gt.json), each detection kept only when it reaches its own fold's operating threshold
// (fold<r>/fold.json, chosen on that fold's validation part; a fold without one keeps nothing):
// what TPR and FPPI are measured on.
std::vector<Detection> pooled_at_fold_thresholds(const std::string& work_dir, const EvalSet& gt);

// DIR/intervals.json as pooled_intervals wrote it (with "froc_band", the FROC's band on the
// pooled test parts); null when there is none.
Json read_pooled_bootstrap(const std::string& work_dir);

// Each variant against the single model on the pooled test parts (paired bootstrap, the run's
// eval settings): a markdown table, also written to DIR/variants.md and DIR/variants.json. Empty
// when nothing is pooled.
std::string compare_test_variants(const std::string& work_dir, const Json& config,
                                  const BootstrapOptions& bootstrap);

}  // namespace mbmd::engine
