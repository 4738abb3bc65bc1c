// Datasets by name: one entry point that turns a dataset folder, as distributed, into Samples,
// and the loading of a sample's pixels (kept separate so that readers stay cheap: a reader looks
// at headers only, pixels are decoded when a sample is loaded).
//
// Adding a dataset: write `Dataset read_<name>(const DatasetOptions&)` in src/data/<name>.cpp with
// its header, and add one line to the table in src/data/dataset.cpp (with a slice loader when
// the dataset's volume slices are shown its own way). A new image file format (DICOM) adds one
// branch to load_sample_image() in the same file.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "mbmd/core/error.h"
#include "mbmd/data/sample.h"

namespace mbmd::data {

// Options every dataset reader understands; a reader ignores what does not apply to it.
struct DatasetOptions {
  std::string root;  // the dataset folder as distributed
  // Lesion classes (or ROI names) that become boxes; empty means the dataset's masses.
  std::vector<std::string> classes;
  // Each selected class gets its own label (in the order given); otherwise all are one label.
  bool separate_classes = false;
  // Keep only images with at least one box (the paper's choice); otherwise all images.
  bool masses_only = false;
  // Keep images with a lesion of a selected class at an unknown place, flagged
  // (Sample::lesion_without_location); by default they are left out.
  bool keep_unlocated = false;
  // Bad items (missing file, malformed row, box outside the image) are skipped and listed in
  // Dataset::skipped instead of raising mbmd::Error.
  bool skip_bad = false;
  // Reader-specific settings ("key" -> "value"), e.g. neighbouring slices for BCS-DBT; a reader
  // throws mbmd::Error for a key it does not know.
  std::map<std::string, std::string> extra;
};

struct SkippedItem {
  std::string item;    // image id, file or "file:line"
  std::string reason;  // the message an error would have had
};

struct Dataset {
  std::string name;                     // "mias", "coco", ...
  std::string root;                     // where the images were found
  std::vector<std::string> categories;  // label i -> category name
  std::vector<Sample> samples;
  std::vector<SkippedItem> skipped;   // bad items left out (DatasetOptions::skip_bad)
  std::vector<SkippedItem> excluded;  // left out by the protocol (lesion without location)
};

struct DatasetSummary {
  int images = 0;
  int boxes = 0;
  int patients = 0;
  int images_with_boxes = 0;
  int unlocated = 0;  // images kept and flagged lesion_without_location
  int skipped = 0;
  int excluded = 0;
};

DatasetSummary summarize(const Dataset& dataset);

// The dataset names read_dataset() knows, in table order, with a one-line description each.
std::vector<std::pair<std::string, std::string>> dataset_names();

// Reads dataset `name` ("mias", ...). Throws mbmd::Error for an unknown name (listing the known
// ones) and for bad input unless options.skip_bad.
Dataset read_dataset(const std::string& name, const DatasetOptions& options);

// Decodes the sample's file into sample.image: float32 [H, W] scaled to 0..255 (see Sample), and
// checks that the size matches sample.width x sample.height.
void load_sample_image(Sample& sample);

// The slice of a volume (sample.frame of sample.file) as the dataset named by
// sample.slice_display shows it: float32 [H, W], 0..255. Throws mbmd::Error for a name that has
// no slice loader in the dataset table.
at::Tensor load_dataset_slice(const Sample& sample);

// Stores decoded pixels in sample.image after checking their size [H, W] against the annotations'
// sample.width x sample.height (0: not known); sets the size, and the bit depth when
// `bit_depth` > 0.
void set_sample_image(Sample& sample, const at::Tensor& image, int bit_depth);

// Fills sample.boxes (float32 [N, 4]) from `xyxy` (x1 y1 x2 y2 per box) and sample.labels (int64
// [N]) from `labels`.
void set_boxes(Sample& sample, const std::vector<float>& xyxy, const std::vector<int64_t>& labels);

// Runs a reader's per-item work: calls `work`, and on mbmd::Error either rethrows (skip_bad off)
// or records the item in `skipped` and returns false.
template <typename Work>
bool run_or_skip(bool skip_bad, const std::string& item, std::vector<SkippedItem>& skipped,
                 Work&& work) {
  try {
    work();
    return true;
  } catch (const Error& e) {
    if (!skip_bad) throw;
    skipped.push_back({item, e.what()});
    return false;
  }
}

}  // namespace mbmd::data
