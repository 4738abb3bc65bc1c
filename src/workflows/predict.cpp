#include "mbmd/workflows/predict.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>

#include "mbmd/core/atomic_file.h"
#include "mbmd/core/error.h"
#include "mbmd/core/threads.h"
#include "mbmd/data/dicom.h"
#include "mbmd/data/image_io.h"
#include "mbmd/inference/predictor.h"
#include "mbmd/pipeline/data_pipeline.h"
#include "mbmd/report/overlay.h"

namespace mbmd::engine {
namespace {

namespace fs = std::filesystem;

bool is_image_file(const fs::path& path) {
  return data::is_dicom_file(path.string()) || data::is_png_or_pgm(path.string());
}

// Files named on the command line, and the images found (recursively, sorted) in folders.
std::vector<fs::path> collect_inputs(const std::vector<std::string>& inputs) {
  std::vector<fs::path> files;
  for (const auto& input : inputs) {
    const fs::path path(input);
    if (fs::is_directory(path)) {
      std::vector<fs::path> found;
      for (const auto& entry : fs::recursive_directory_iterator(path))
        if (entry.is_regular_file() && is_image_file(entry.path())) found.push_back(entry.path());
      if (found.empty()) throw Error(input + ": the folder holds no DICOM, PNG or PGM file");
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(path)) {
      if (!is_image_file(path))
        throw Error(input + ": not a DICOM, PNG or binary PGM file (or cannot be opened)");
      files.push_back(path);
    } else {
      throw Error(input + ": no such file or folder");
    }
  }
  return files;
}

// One sample per file, its image id the file's stem (which must be unique).
std::vector<data::Sample> input_samples(const std::vector<std::string>& inputs) {
  std::vector<data::Sample> samples;
  std::map<std::string, std::string> seen;
  for (const auto& file : collect_inputs(inputs)) {
    data::Sample s;
    s.image_id = file.stem().string();
    s.file = file.string();
    if (const auto [it, fresh] = seen.emplace(s.image_id, s.file); !fresh)
      throw Error("two inputs have the image id '" + s.image_id + "': " + it->second + " and " +
                  s.file + " (image ids are file stems)");
    samples.push_back(std::move(s));
  }
  return samples;
}

void check_predict_options(const PredictOptions& o) {
  if (o.checkpoint.empty()) throw Error("predict needs --checkpoint FILE");
  if (o.out.empty()) throw Error("predict needs --out FILE.json");
  if (o.inputs.empty()) throw Error("predict needs at least one INPUT file or folder");
  if (o.batch < 1)
    throw Error("option --batch: expected a number >= 1, got " + std::to_string(o.batch));
  if (fs::is_directory(o.out))
    throw Error("--out " + o.out + " is a folder; give the json file to write");
}

// Creates the overlay folder and the results file's folder.
void make_output_folders(const PredictOptions& o) {
  if (!o.overlay_dir.empty()) {
    std::error_code error;
    fs::create_directories(o.overlay_dir, error);
    if (!fs::is_directory(o.overlay_dir))
      throw Error("--overlay " + o.overlay_dir + ": cannot create the folder");
  }
  const fs::path out_path(o.out);
  if (out_path.has_parent_path()) {
    std::error_code error;
    fs::create_directories(out_path.parent_path(), error);
  }
}

}  // namespace

PredictResult run_predict(const PredictOptions& options) {
  check_predict_options(options);
  const std::vector<data::Sample> samples = input_samples(options.inputs);
  auto detector = load_detector(options.checkpoint, options.config, options.overrides);
  PredictResult result;
  result.images = samples.size();
  result.threads = configure_threads(
      options.threads >= 0 ? options.threads : detector.config["runtime"]["threads"].get<int>());

  PipelineOptions pipeline_options = pipeline_options_from_config(detector.config, false);
  pipeline_options.batch_size = options.batch;
  pipeline_options.workers = std::max(1, pipeline_options.workers);
  pipeline_options.cache = false;
  pipeline_options.keep_original = !options.overlay_dir.empty();
  DataPipeline pipeline(samples, pipeline_options);
  make_output_folders(options);

  Json results = Json::array();
  size_t done = 0;
  const bool tty = isatty(STDERR_FILENO) != 0;
  const fs::path overlay_dir(options.overlay_dir);
  run_detector(*detector.model, pipeline, [&](const ImageResult& r) {
    const auto& sample = pipeline.samples()[r.sample];
    for (auto& entry : coco_results(sample.image_id, r.detections, options.score_thr))
      results.push_back(std::move(entry));
    if (!options.overlay_dir.empty())
      write_overlay((overlay_dir / (sample.image_id + ".png")).string(), r.original, r.detections,
                    std::max(options.score_thr, options.overlay_thr));
    ++done;
    if (tty)
      std::cerr << "\rmbmd predict: " << done << "/" << samples.size() << " images" << std::flush;
  });
  if (tty) std::cerr << "\n";
  write_file_atomic(options.out, results.dump(1) + "\n");
  result.detections = results.size();
  return result;
}

}  // namespace mbmd::engine
