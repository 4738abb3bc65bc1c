// `mbmd predict`: a trained detector over image files (DICOM, PNG, PGM) to a COCO results file,
// optionally with overlay pictures (docs/training.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mbmd/core/config.h"
#include "mbmd/inference/merge.h"

namespace mbmd::engine {

struct PredictOptions {
  std::vector<std::string> checkpoints;  // one model, or several merged (an ensemble)
  std::optional<Json> config;            // none: the config stored in the checkpoint
  std::vector<std::string> overrides;    // "key=value", applied before the model is built
  std::vector<std::string> inputs;       // files, or folders searched recursively
  std::string out;                       // the COCO results json
  std::string gt;            // a COCO ground truth: image ids become its ids, matched by file name
  std::string overlay_dir;   // empty: no overlays
  std::string sr_dir;        // empty: no DICOM SR; else <stem>.sr.dcm per DICOM input
  double sr_thr = 0.5;       // findings scoring at least this go into the SRs
  std::string config_name;   // what --config named (for the SRs' algorithm parameters)
  double score_thr = 0.0;    // leave out detections below
  double overlay_thr = 0.5;  // draw detections at least this on overlays
  int batch = 1;             // images per forward pass
  int threads = -1;          // < 0: runtime.threads of the config
  bool resume = false;       // keep `out`'s results and skip the files a previous run did
  bool tta_flip = false;     // also run each model on the mirrored image, and merge
  MergeOptions merge;        // how the runs of several models or views are merged
};

// A file that could not be read, and why.
struct FailedFile {
  std::string file;
  std::string reason;
};

struct PredictResult {
  std::vector<FailedFile> failed;  // also on stderr and in DETS.errors.json
  size_t images = 0;
  size_t detections = 0;
  int threads = 0;
};

// Checks the inputs before loading the model (a typo should not cost that), then writes `out`
// atomically; bad options are mbmd::Error naming the option. A file that cannot be decoded (broken,
// or over the size limits) does not stop the run: it is named with its reason on stderr and in
// DETS.errors.json (a list of {file_name, reason}; empty when all went well), and the other files'
// results are written. Results are written as the run goes (at most every two seconds, with
// DETS.progress.json naming the files done until the run ends), so `resume` continues a killed
// run; a file done before is not run again. Each result carries
// image_id (the file's stem, or with `gt` the ground truth's id of the image whose file_name has
// the input's file name), category_id, bbox, score, file_name (the input's path), and
// laterality, view and patient_id where a DICOM input says. A multi-frame DICOM file (a volume)
// is run frame by frame, its results carrying "frame" (0-based). With `sr_dir`, each DICOM input
// gets a DICOM Structured Report there as soon as all its frames are done (report/dicom_sr.h).
PredictResult run_predict(const PredictOptions& options);

}  // namespace mbmd::engine
