// The DICOM Structured Reports of `mbmd predict --sr-out` (docs/results.md, "DICOM SR"): the
// detections of each DICOM input gathered frame by frame, and its report written once all its
// frames are done.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "mbmd/data/sample.h"
#include "mbmd/inference/predictor.h"
#include "mbmd/report/dicom_sr.h"
#include "mbmd/workflows/predict.h"

namespace mbmd::engine {

class DicomReports {
 public:
  // Called with a file whose report could not be written, and why; the run goes on.
  using ReportFailure = std::function<void(const std::string& file, const std::string& reason)>;

  // Reports for the DICOM files among `samples` (one sample per frame of a volume), into
  // options.sr_dir; the algorithm is named by the detectors, their checkpoints and the options.
  DicomReports(const PredictOptions& options, const std::vector<LoadedDetector>& detectors,
               const std::vector<data::Sample>& samples, ReportFailure on_failure);

  // A sample's detections (original pixels); the file's report is written with its last frame.
  void add(const data::Sample& sample, const model::Detections& detections);
  // A sample that could not be read: its file gets no report.
  void fail(const data::Sample& sample);

 private:
  void frame_done(const std::string& file);

  std::string dir_;
  StructuredReportWriter writer_;
  std::map<std::string, int> frames_left_;
  std::map<std::string, std::vector<SrFinding>> findings_;
  std::set<std::string> failed_;
  ReportFailure on_failure_;
};

}  // namespace mbmd::engine
