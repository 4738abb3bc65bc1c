// `mbmd predict`: runs a trained detector on image files (DICOM, PNG, PGM) and writes COCO
// results, optionally with overlay pictures (docs/training.md).
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>

#include "arg_parser.h"
#include "command.h"
#include "mbmd/core/config.h"
#include "mbmd/core/error.h"
#include "mbmd/core/threads.h"
#include "mbmd/data/dicom.h"
#include "mbmd/data/image_io.h"
#include "mbmd/engine/data_pipeline.h"
#include "mbmd/engine/overlay.h"
#include "mbmd/engine/predictor.h"

namespace mbmd::cli {
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

double parse_threshold(const std::string& name, const std::string& text) {
  try {
    size_t used = 0;
    const double value = std::stod(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  throw Error("option --" + name + ": expected a number, got '" + text + "'");
}

}  // namespace

int predict_command(const Args& args) {
  ArgParser parser(
      "predict",
      "Runs a trained detector on images (DICOM, PNG or PGM files, or folders searched\n"
      "recursively) and writes a COCO results file: a list of {image_id (the file's stem),\n"
      "category_id (1-based), bbox [x, y, w, h] in original pixels, score}. Files are decoded\n"
      "on worker threads while the model runs. The config is the checkpoint's unless --config\n"
      "is given.\n\n"
      "example: mbmd predict --checkpoint runs/mhfpn/best.ckpt scans/ --out dets.json \\\n"
      "           --overlay overlays/ --score-thr 0.3");
  parser.positional("INPUT", "image files or folders", /*many=*/true)
      .option("checkpoint", "the trained model (best.ckpt or last.ckpt of `mbmd train`)")
      .option("config", "config file or name (default: the one stored in the checkpoint)")
      .option("set", "override a config key: key=value", "", true)
      .option("out", "the COCO results json to write")
      .option("overlay", "also write one PNG per image with boxes and scores into this folder")
      .option("score-thr", "leave out detections scoring below this (default: keep all)")
      .option("overlay-thr", "draw detections scoring at least this on overlays", "0.5")
      .option("batch", "images per forward pass", "1")
      .option("threads", "intra-op threads (0: all cores; default runtime.threads)");
  if (!parser.parse(args)) return 0;
  if (!parser.has("checkpoint")) throw Error("predict needs --checkpoint FILE");
  if (!parser.has("out")) throw Error("predict needs --out FILE.json");
  if (parser.positionals().empty()) throw Error("predict needs at least one INPUT file or folder");
  const double score_thr =
      parser.has("score-thr") ? parse_threshold("score-thr", parser.get("score-thr")) : 0.0;
  const double overlay_thr = parse_threshold("overlay-thr", parser.get("overlay-thr"));
  const int batch = parser.get_int("batch");
  if (batch < 1) throw Error("option --batch: expected a number >= 1, got " + parser.get("batch"));
  const fs::path out_path(parser.get("out"));
  if (fs::is_directory(out_path))
    throw Error("--out " + out_path.string() + " is a folder; give the json file to write");

  // Inputs first: a typo should not cost loading the model.
  const auto files = collect_inputs(parser.positionals());
  std::vector<data::Sample> samples;
  std::map<std::string, std::string> seen;
  for (const auto& file : files) {
    data::Sample s;
    s.image_id = file.stem().string();
    s.file = file.string();
    if (const auto [it, fresh] = seen.emplace(s.image_id, s.file); !fresh)
      throw Error("two inputs have the image id '" + s.image_id + "': " + it->second + " and " +
                  s.file + " (image ids are file stems)");
    samples.push_back(std::move(s));
  }

  std::optional<Json> config;
  if (parser.has("config")) config = load_config(parser.get("config"));
  auto detector = engine::load_detector(parser.get("checkpoint"), config);
  if (!parser.get_all("set").empty()) {
    // Overrides may change test-time settings (thresholds, input scale): rebuild with them.
    Json patched = detector.config;
    apply_overrides(patched, parser.get_all("set"));
    detector = engine::load_detector(parser.get("checkpoint"), patched);
  }
  int threads = detector.config["runtime"]["threads"].get<int>();
  if (parser.has("threads")) threads = parser.get_int("threads");
  threads = configure_threads(threads);

  engine::PipelineOptions pipeline_options =
      engine::pipeline_options_from_config(detector.config, /*train=*/false);
  pipeline_options.batch_size = batch;
  pipeline_options.workers = std::max(1, pipeline_options.workers);
  pipeline_options.cache = false;
  pipeline_options.keep_original = parser.has("overlay");
  engine::DataPipeline pipeline(samples, pipeline_options);

  fs::path overlay_dir;
  if (parser.has("overlay")) {
    overlay_dir = parser.get("overlay");
    std::error_code error;
    fs::create_directories(overlay_dir, error);
    if (!fs::is_directory(overlay_dir))
      throw Error("--overlay " + overlay_dir.string() + ": cannot create the folder");
  }
  if (out_path.has_parent_path()) {
    std::error_code error;
    fs::create_directories(out_path.parent_path(), error);
  }

  Json results = Json::array();
  size_t done = 0;
  const bool tty = isatty(STDERR_FILENO) != 0;
  engine::run_detector(*detector.model, pipeline, [&](const engine::ImageResult& r) {
    const auto& sample = pipeline.samples()[r.sample];
    for (auto& entry : engine::coco_results(sample.image_id, r.detections, score_thr))
      results.push_back(std::move(entry));
    if (!overlay_dir.empty())
      engine::write_overlay((overlay_dir / (sample.image_id + ".png")).string(), r.original,
                            r.detections, std::max(score_thr, overlay_thr));
    ++done;
    if (tty)
      std::cerr << "\rmbmd predict: " << done << "/" << samples.size() << " images" << std::flush;
  });
  if (tty) std::cerr << "\n";
  data::write_file_atomic(out_path.string(), results.dump(1) + "\n");
  std::cout << samples.size() << " images, " << results.size() << " detections -> "
            << out_path.string() << " (" << threads << " threads)\n";
  return 0;
}

}  // namespace mbmd::cli
