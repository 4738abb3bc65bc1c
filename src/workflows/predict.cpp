#include "mbmd/workflows/predict.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <set>

#include "mbmd/core/atomic_file.h"
#include "mbmd/core/error.h"
#include "mbmd/core/json_file.h"
#include "mbmd/core/threads.h"
#include "mbmd/data/dicom.h"
#include "mbmd/data/image_io.h"
#include "mbmd/inference/merge.h"
#include "mbmd/inference/predictor.h"
#include "mbmd/pipeline/data_pipeline.h"
#include "mbmd/report/overlay.h"
#include "predict_reports.h"

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

// One sample per file, its image id the file's stem (which must be unique); a DICOM file's
// laterality, view and patient from its header, and a multi-frame file (a tomosynthesis volume)
// one sample per frame, "<stem>_f<frame>". A DICOM file whose header cannot be read is a failed
// file, not an error of the run.
std::vector<data::Sample> input_samples(const std::vector<std::string>& inputs,
                                        std::vector<FailedFile>& failed) {
  std::vector<data::Sample> samples;
  std::map<std::string, std::string> seen;
  for (const auto& file : collect_inputs(inputs)) {
    data::Sample s;
    s.image_id = file.stem().string();
    s.file = file.string();
    if (const auto [it, fresh] = seen.emplace(s.image_id, s.file); !fresh)
      throw Error("two inputs have the image id '" + s.image_id + "': " + it->second + " and " +
                  s.file + " (image ids are file stems)");
    int frames = 1;
    if (data::is_dicom_file(s.file)) {
      try {
        const data::DicomImage info = data::read_dicom_info(s.file);
        s.laterality = info.laterality;
        s.view = info.view;
        s.patient_id = info.patient_id;
        frames = info.frames;
      } catch (const std::exception& e) {
        failed.push_back({s.file, e.what()});
        continue;
      }
    }
    if (frames == 1) {
      samples.push_back(std::move(s));
      continue;
    }
    for (int frame = 0; frame < frames; ++frame) {
      data::Sample slice = s;
      slice.frame = frame;
      slice.image_id = s.image_id + "_f" + std::to_string(frame);
      samples.push_back(std::move(slice));
    }
  }
  return samples;
}

// What --resume and the progress file know a sample by: its file, and its frame in a volume.
std::string sample_key(const std::string& file, int frame) {
  return frame < 0 ? file : file + "#" + std::to_string(frame);
}

// A file beside the results: DETS.json -> DETS<suffix> ("DETS.errors.json").
std::string sidecar_path(const std::string& out, const std::string& suffix) {
  const fs::path path(out);
  const std::string stem =
      path.extension() == ".json" ? path.stem().string() : path.filename().string();
  return (path.parent_path() / (stem + suffix)).string();
}

// The ground truth's image ids by file name (and by file stem, for files converted to another
// format), from its "images": [{"id", "file_name"}], with "#<frame>" appended for the slices of a
// volume ({"frame": n}).
std::map<std::string, Json> ground_truth_ids(const std::string& gt_path) {
  const Json gt = read_json_file(gt_path, "ground-truth file");
  if (!gt.is_object() || !gt.contains("images") || !gt["images"].is_array())
    throw Error("ground-truth file " + gt_path + ": no 'images' list (is it a COCO file?)");
  std::map<std::string, Json> ids;
  for (size_t i = 0; i < gt["images"].size(); ++i) {
    const Json& image = gt["images"][i];
    const std::string where =
        "ground-truth file " + gt_path + ": images[" + std::to_string(i) + "]";
    if (!image.is_object() || !image.contains("id") || !image.contains("file_name") ||
        !image["file_name"].is_string())
      throw Error(where + " needs an id and a file_name");
    const int frame = image.contains("frame") && image["frame"].is_number_integer()
                          ? image["frame"].get<int>()
                          : -1;
    const fs::path name = fs::path(image["file_name"].get<std::string>()).filename();
    ids.emplace(sample_key(name.string(), frame), image["id"]);
    ids.emplace(sample_key(name.stem().string(), frame), image["id"]);
  }
  return ids;
}

// Each sample's image id in the results: the ground truth's id when one is given.
std::vector<Json> result_image_ids(const std::vector<data::Sample>& samples,
                                   const std::string& gt_path) {
  std::vector<Json> ids;
  if (gt_path.empty()) {
    for (const auto& s : samples) ids.emplace_back(s.image_id);
    return ids;
  }
  const auto by_name = ground_truth_ids(gt_path);
  for (const auto& s : samples) {
    const fs::path file(s.file);
    auto found = by_name.find(sample_key(file.filename().string(), s.frame));
    if (found == by_name.end()) found = by_name.find(sample_key(file.stem().string(), s.frame));
    if (found == by_name.end())
      throw Error(s.file + (s.frame >= 0 ? " frame " + std::to_string(s.frame) : "") +
                  ": no image of " + gt_path + " has this file name (--gt matches the " +
                  "inputs to the ground truth's images by file_name, and frame in a volume)");
    ids.push_back(found->second);
  }
  return ids;
}

// The results of one image: COCO entries with the input's file and what its header says.
Json image_results(const Json& image_id, const data::Sample& sample,
                   const model::Detections& detections, double score_thr) {
  Json entries = coco_results(image_id, detections, score_thr);
  for (auto& entry : entries) {
    entry["file_name"] = sample.file;
    if (sample.frame >= 0) entry["frame"] = sample.frame;
    if (!sample.laterality.empty()) entry["laterality"] = sample.laterality;
    if (!sample.view.empty()) entry["view"] = sample.view;
    if (!sample.patient_id.empty()) entry["patient_id"] = sample.patient_id;
  }
  return entries;
}

void check_predict_options(const PredictOptions& o) {
  if (o.checkpoints.empty()) throw Error("predict needs --checkpoint FILE");
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

namespace {

// The results file as the run goes: results and failures are written (atomically) at most every
// two seconds and at the end, with DETS.progress.json listing the files done, so that a killed
// run loses at most its last seconds of films and --resume carries on from there.
class ResultsFile {
 public:
  explicit ResultsFile(const PredictOptions& options)
      : out_(options.out),
        errors_(sidecar_path(options.out, ".errors.json")),
        progress_(sidecar_path(options.out, ".progress.json")) {
    if (options.resume) load_previous();
  }

  // `key`: sample_key() of a file, or of a frame of a volume.
  bool done(const std::string& key) const { return done_.count(key) > 0; }
  size_t detections() const { return results_.size(); }
  const std::vector<FailedFile>& failed() const { return failed_; }

  void add(const std::string& key, Json entries) {
    for (auto& entry : entries) results_.push_back(std::move(entry));
    done_.insert(key);
    order_.push_back(key);
    flush(false);
  }

  void fail(const std::string& file, const std::string& reason) {
    std::cerr << "mbmd predict: skipped " << file << ": " << reason << "\n";
    failed_.push_back({file, reason});
  }

  // Writes the results and the errors; at the end the progress file goes (the run is whole).
  void flush(bool final) {
    const auto now = std::chrono::steady_clock::now();
    if (!final && now - last_flush_ < std::chrono::seconds(2)) return;
    last_flush_ = now;
    write_json_file(out_, results_, 1);
    Json errors = Json::array();
    for (const auto& f : failed_) errors.push_back({{"file_name", f.file}, {"reason", f.reason}});
    write_json_file(errors_, errors, 1);
    if (final) {
      std::error_code ignored;
      fs::remove(progress_, ignored);
      return;
    }
    write_json_file(progress_, Json{{"done", order_}}, 1);
  }

 private:
  // A previous run's results, and the files it finished: those of its progress file, or, when it
  // ended whole, the files its results name (files without detections are then run again).
  void load_previous() {
    if (!fs::exists(out_)) return;
    results_ = read_json_file(out_, "results file");
    if (!results_.is_array())
      throw Error("--resume: " + out_ + " is not a COCO results list; remove it or choose --out");
    if (fs::exists(progress_)) {
      for (const auto& f : read_json_file(progress_, "progress file").value("done", Json::array()))
        if (f.is_string()) order_.push_back(f.get<std::string>());
    } else {
      for (const auto& entry : results_)
        if (entry.is_object() && entry.contains("file_name") && entry["file_name"].is_string())
          order_.push_back(
              sample_key(entry["file_name"].get<std::string>(), entry.value("frame", -1)));
    }
    done_.insert(order_.begin(), order_.end());
    order_.assign(done_.begin(), done_.end());
  }

  std::string out_, errors_, progress_;
  Json results_ = Json::array();
  std::set<std::string> done_;
  std::vector<std::string> order_;  // sample keys done, for the progress file
  std::vector<FailedFile> failed_;
  std::chrono::steady_clock::time_point last_flush_{};
};

// One pass of a model over the images (mirrored with `flip`), calling `sink` per image.
void predict_pass(LoadedDetector& detector, const std::vector<data::Sample>& samples,
                  const PredictOptions& options, bool flip, bool keep_original,
                  const std::function<void(const ImageResult&)>& sink,
                  const SampleFailure& on_failure) {
  PipelineOptions pipeline_options = pipeline_options_from_config(detector.config, false);
  pipeline_options.batch_size = options.batch;
  pipeline_options.workers = std::max(1, pipeline_options.workers);
  pipeline_options.cache = false;
  pipeline_options.keep_original = keep_original;
  pipeline_options.flip_all = flip;
  pipeline_options.skip_bad = true;
  DataPipeline pipeline(samples, pipeline_options);
  run_detector(*detector.model, pipeline, sink, on_failure);
}

// Progress on a terminal: "mbmd predict: pass 1/2, 10/100 images".
class Progress {
 public:
  Progress(size_t passes, size_t images)
      : passes_(passes), images_(images), tty_(isatty(STDERR_FILENO) != 0) {}
  void image_done(size_t pass) {
    if (!tty_) return;
    ++done_;
    std::cerr << "\rmbmd predict: ";
    if (passes_ > 1) std::cerr << "pass " << pass + 1 << "/" << passes_ << ", ";
    std::cerr << (done_ - 1) % images_ + 1 << "/" << images_ << " images" << std::flush;
  }
  ~Progress() {
    if (tty_ && done_ > 0) std::cerr << "\n";
  }

 private:
  size_t passes_, images_, done_ = 0;
  bool tty_;
};

}  // namespace

PredictResult run_predict(const PredictOptions& options) {
  check_predict_options(options);
  PredictResult result;
  std::vector<FailedFile> header_failures;
  ResultsFile file(options);
  std::vector<data::Sample> samples;
  for (auto& s : input_samples(options.inputs, header_failures))
    if (!file.done(sample_key(s.file, s.frame))) samples.push_back(std::move(s));
  for (const auto& f : header_failures) file.fail(f.file, f.reason);
  const std::vector<Json> image_ids = result_image_ids(samples, options.gt);
  std::vector<LoadedDetector> detectors;
  for (const auto& checkpoint : options.checkpoints)
    detectors.push_back(load_detector(checkpoint, options.config, options.overrides));
  apply_image_limits(detectors.front().config);
  result.threads = configure_threads(
      options.threads >= 0 ? options.threads
                           : detectors.front().config["runtime"]["threads"].get<int>());
  make_output_folders(options);
  std::optional<DicomReports> reports;
  if (!options.sr_dir.empty())
    reports.emplace(options, detectors, samples,
                    [&](const std::string& f, const std::string& reason) { file.fail(f, reason); });

  // One run per model and view (the image, and its mirror with TTA); one run alone is written as
  // it goes, several are merged per image once all have run.
  const size_t views = options.tta_flip ? 2 : 1;
  const size_t passes = samples.empty() ? 0 : detectors.size() * views;
  const bool streaming = passes == 1;
  const double overlay_thr = std::max(options.score_thr, options.overlay_thr);
  const fs::path overlay_dir(options.overlay_dir);
  std::vector<std::vector<model::Detections>> runs(samples.size());
  auto add_results = [&](size_t i, const model::Detections& detections) {
    file.add(sample_key(samples[i].file, samples[i].frame),
             image_results(image_ids[i], samples[i], detections, options.score_thr));
    if (reports) reports->add(samples[i], detections);
  };
  Progress progress(passes, samples.size());
  std::set<size_t> bad;  // samples that failed to load in any pass
  for (size_t pass = 0; pass < passes; ++pass) {
    predict_pass(
        detectors[pass / views], samples, options, pass % views == 1,
        streaming && !options.overlay_dir.empty(),
        [&](const ImageResult& r) {
          if (streaming) {
            add_results(r.sample, r.detections);
            if (!options.overlay_dir.empty())
              write_overlay((overlay_dir / (samples[r.sample].image_id + ".png")).string(),
                            r.original, r.detections, overlay_thr);
          } else {
            runs[r.sample].push_back(r.detections);
          }
          progress.image_done(pass);
        },
        [&](size_t sample, const std::string& reason) {
          if (bad.insert(sample).second) {
            file.fail(samples[sample].file, reason);
            if (reports) reports->fail(samples[sample]);
          }
          progress.image_done(pass);
        });
  }
  if (!streaming) {
    for (size_t i = 0; i < samples.size(); ++i) {
      if (bad.count(i)) continue;
      const model::Detections merged = merge_detections(runs[i], options.merge);
      add_results(i, merged);
      if (options.overlay_dir.empty()) continue;
      data::Sample sample = samples[i];
      data::load_sample_image(sample);
      write_overlay((overlay_dir / (sample.image_id + ".png")).string(), sample.image, merged,
                    overlay_thr);
    }
  }
  file.flush(/*final=*/true);
  result.failed = file.failed();
  result.images = samples.size() - bad.size();
  result.detections = file.detections();
  return result;
}

}  // namespace mbmd::engine
