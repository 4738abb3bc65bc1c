// The test parts of a cross-validation run pooled (docs/training.md, "Cross-validation"): every
// image is in exactly one test part, so the folds' test results together cover the dataset once.
// DIR/test_gt.json is their COCO ground truth (ids 1..N in fold order, image_name the dataset's
// id), DIR/test_dets.json the folds' test results on those ids (each with its "fold"): what
// `mbmd compare` and pycocotools read, and what `mbmd predict --gt` maps other runs onto.
#pragma once

#include <string>
#include <vector>

#include "mbmd/core/config.h"
#include "mbmd/data/dataset.h"
#include "mbmd/data/split.h"

namespace mbmd::engine {

// Writes both files for the folds 0..folds-1 that have their fold<r>/test_dets.json; returns the
// number of folds pooled (0: nothing written).
int write_pooled_test_results(const std::string& work_dir, const data::Dataset& dataset,
                              const data::Split& split, int folds);

}  // namespace mbmd::engine
