#include "predict_reports.h"

#include <filesystem>
#include <iostream>

#include "mbmd/core/build_info.h"
#include "mbmd/core/error.h"
#include "mbmd/core/file_hash.h"
#include "mbmd/core/strings.h"
#include "mbmd/data/dicom.h"

namespace mbmd::engine {
namespace {

namespace fs = std::filesystem;

// "Faster R-CNN, ResNet-50, MHFPN": what the first detector is.
std::string model_description(const Json& config) {
  const Json& model = config["model"];
  std::string text = "Faster R-CNN";
  if (model.contains("backbone") && model["backbone"].contains("depth"))
    text += ", ResNet-" + std::to_string(model["backbone"]["depth"].get<int>());
  if (model.contains("neck") && model["neck"].contains("type"))
    text += ", " + upper(model["neck"]["type"].get<std::string>());
  return text;
}

// The config and checkpoint identity, and what changes the findings: "config=...; set=...;
// checkpoint=best.ckpt (fnv1a64:...); tta=flip; merge=wbf".
std::string algorithm_parameters(const PredictOptions& options) {
  std::string text =
      "config=" + (options.config_name.empty() ? "stored in checkpoint" : options.config_name);
  if (!options.overrides.empty()) text += "; set=" + join(options.overrides, ",");
  for (const auto& checkpoint : options.checkpoints)
    text += "; checkpoint=" + fs::path(checkpoint).filename().string() + " (" +
            file_fingerprint(checkpoint) + ")";
  if (options.tta_flip) text += "; tta=flip";
  if (options.checkpoints.size() > 1 || options.tta_flip)
    text += std::string("; merge=") + (options.merge.method == MergeMethod::kNms ? "nms" : "wbf");
  return text;
}

SrAlgorithm algorithm_of(const PredictOptions& options, const Json& config) {
  SrAlgorithm algorithm;
  algorithm.version = version_string();
  algorithm.model = model_description(config);
  algorithm.parameters = algorithm_parameters(options);
  return algorithm;
}

}  // namespace

DicomReports::DicomReports(const PredictOptions& options,
                           const std::vector<LoadedDetector>& detectors,
                           const std::vector<data::Sample>& samples, ReportFailure on_failure)
    : dir_(options.sr_dir),
      writer_(algorithm_of(options, detectors.front().config), options.sr_thr),
      on_failure_(std::move(on_failure)) {
  std::error_code error;
  fs::create_directories(dir_, error);
  if (!fs::is_directory(dir_)) throw Error("--sr-out " + dir_ + ": cannot create the folder");
  for (const auto& s : samples)
    if (data::is_dicom_file(s.file)) ++frames_left_[s.file];
}

void DicomReports::add(const data::Sample& sample, const model::Detections& detections) {
  if (!frames_left_.count(sample.file)) return;
  auto& findings = findings_[sample.file];
  const auto boxes = detections.boxes.to(at::kDouble).contiguous();
  const auto scores = detections.scores.to(at::kDouble).contiguous();
  for (int64_t i = 0; i < boxes.size(0); ++i) {
    const double* b = boxes.data_ptr<double>() + 4 * i;
    findings.push_back({sample.frame, b[0], b[1], b[2], b[3], scores.data_ptr<double>()[i]});
  }
  frame_done(sample.file);
}

void DicomReports::fail(const data::Sample& sample) {
  if (!frames_left_.count(sample.file)) return;
  failed_.insert(sample.file);
  frame_done(sample.file);
}

void DicomReports::frame_done(const std::string& file) {
  if (--frames_left_[file] > 0 || failed_.count(file)) return;
  const std::string path = (fs::path(dir_) / (fs::path(file).stem().string() + ".sr.dcm")).string();
  try {
    writer_.write(file, findings_[file], path);
  } catch (const std::exception& e) {
    on_failure_(file, std::string("no DICOM SR: ") + e.what());
  }
  findings_.erase(file);
}

}  // namespace mbmd::engine
