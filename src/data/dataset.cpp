#include "mbmd/data/dataset.h"

#include <algorithm>
#include <set>

#include "mbmd/data/bcsdbt.h"
#include "mbmd/data/dicom.h"
#include "mbmd/data/image_io.h"
#include "mbmd/data/inbreast.h"
#include "mbmd/data/mias.h"

namespace mbmd::data {
namespace {

struct DatasetEntry {
  const char* name;
  Dataset (*read)(const DatasetOptions&);
  // How the dataset shows a slice of its volumes (Sample::slice_display); nullptr: no volumes.
  at::Tensor (*load_slice)(const Sample&);
  const char* description;
};

// One line per dataset reader (the `mbmd convert` names).
const DatasetEntry kDatasets[] = {
    {"mias", read_mias, nullptr, "mini-MIAS: Info.txt and mdbNNN.pgm or mdbNNN.png"},
    {"inbreast", read_inbreast, nullptr,
     "INbreast: AllDICOMs/, AllXML/ (plist ROIs), INbreast.csv"},
    {"bcsdbt", read_bcsdbt, load_bcsdbt_sample_slice,
     "BCS-DBT: the file-paths, labels and boxes CSVs and DICOM volumes"},
};

}  // namespace

DatasetSummary summarize(const Dataset& dataset) {
  DatasetSummary summary;
  std::set<std::string> patients;
  for (const auto& sample : dataset.samples) {
    ++summary.images;
    const int boxes = sample.boxes.defined() ? static_cast<int>(sample.boxes.size(0)) : 0;
    summary.boxes += boxes;
    summary.images_with_boxes += boxes > 0;
    summary.unlocated += sample.lesion_without_location;
    patients.insert(sample.patient_id);
  }
  summary.patients = static_cast<int>(patients.size());
  summary.skipped = static_cast<int>(dataset.skipped.size());
  summary.excluded = static_cast<int>(dataset.excluded.size());
  return summary;
}

std::vector<std::pair<std::string, std::string>> dataset_names() {
  std::vector<std::pair<std::string, std::string>> names;
  for (const auto& entry : kDatasets) names.emplace_back(entry.name, entry.description);
  return names;
}

Dataset read_dataset(const std::string& name, const DatasetOptions& options) {
  std::string known;
  for (const auto& entry : kDatasets) {
    if (name == entry.name) return entry.read(options);
    known += std::string(known.empty() ? "" : ", ") + entry.name;
  }
  throw Error("unknown dataset '" + name + "' (known: " + known + ")");
}

void load_sample_image(Sample& sample) {
  // Each image file format the readers produce has one branch here, chosen by the file's content.
  if (is_dicom_file(sample.file)) {
    load_dicom_sample(sample);  // LUTs and window, or the slice display of the sample's dataset
    return;
  }
  if (!is_png_or_pgm(sample.file))
    throw Error(sample.file + ": image of " + sample.image_id +
                " is not a DICOM, PNG or binary PGM file (or cannot be opened)");
  const DecodedImage decoded = read_image(sample.file);
  set_sample_image(sample, to_unit_255(decoded.pixels, decoded.info.max_value),
                   decoded.info.bit_depth);
}

at::Tensor load_dataset_slice(const Sample& sample) {
  std::string known;
  for (const auto& entry : kDatasets) {
    if (!entry.load_slice) continue;
    if (sample.slice_display == entry.name) return entry.load_slice(sample);
    known += std::string(known.empty() ? "" : ", ") + entry.name;
  }
  throw Error(sample.file + ": sample " + sample.image_id + " asks for the slice display '" +
              sample.slice_display + "', which no dataset has (known: " + known + ")");
}

void set_sample_image(Sample& sample, const at::Tensor& image, int bit_depth) {
  const int height = static_cast<int>(image.size(0)), width = static_cast<int>(image.size(1));
  if ((sample.width != 0 && width != sample.width) ||
      (sample.height != 0 && height != sample.height))
    throw Error(sample.file + ": image is " + std::to_string(width) + "x" + std::to_string(height) +
                " but the annotations of " + sample.image_id + " say " +
                std::to_string(sample.width) + "x" + std::to_string(sample.height));
  sample.width = width;
  sample.height = height;
  if (bit_depth > 0) sample.bit_depth = bit_depth;
  sample.image = image;
}

void set_boxes(Sample& sample, const std::vector<float>& xyxy, const std::vector<int64_t>& labels) {
  const auto n = static_cast<int64_t>(labels.size());
  sample.boxes = at::empty({n, 4}, at::kFloat);
  sample.labels = at::empty({n}, at::kLong);
  std::copy(xyxy.begin(), xyxy.end(), sample.boxes.data_ptr<float>());
  std::copy(labels.begin(), labels.end(), sample.labels.data_ptr<int64_t>());
}

}  // namespace mbmd::data
