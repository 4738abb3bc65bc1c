// The files of `mbmd cv --repeats K` over its repeats (docs/commands.md, "mbmd cv"): DIR's
// summary.md, summary.csv, summary.json and report.html.
#pragma once

#include <string>

#include "mbmd/workflows/cv.h"

namespace mbmd::engine {

struct RepeatedCvRun {
  CvRun first;  // repeat 0's run: the model, the dataset, the metrics, the folds planned
  std::string work_dir;
  int repeats_planned = 0;
};

// Writes DIR's summary files and report over result.repeats (and fills result.summary).
void write_repeated_cv_summary(const RepeatedCvRun& run, RepeatedCvResult& result);

}  // namespace mbmd::engine
