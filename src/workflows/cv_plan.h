// One cross-validation run in two steps (docs/commands.md, "mbmd cv"): plan_cv makes every check
// that can fail before training and writes nothing; execute_cv trains the folds and writes the
// run's files. run_cv is the two in a row; `mbmd cv --repeats K` plans all K runs first.
#pragma once

#include <string>
#include <vector>

#include "mbmd/data/dataset.h"
#include "mbmd/data/split.h"
#include "mbmd/workflows/cv.h"

namespace mbmd::engine {

struct CvPlan {
  CvRun run;
  data::Dataset dataset;
  data::Split split;
  std::vector<double> iou_thrs;  // AP thresholds the summary's metrics need
};

// The checks of run_cv (work dir, metrics, dataset, split, folds) and what the run needs.
CvPlan plan_cv(const Json& config, const CvOptions& options);

// Trains or keeps (with options.resume) each fold, and writes the summary, the pooled test parts,
// their intervals and the test-time variants into options.work_dir.
CvResult execute_cv(const CvPlan& plan, const CvOptions& options);

}  // namespace mbmd::engine
