#include "mbmd/data/dataset.h"

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
  const char* description;
};

// One line per dataset reader (the `mbmd convert` names).
const DatasetEntry kDatasets[] = {
    {"mias", read_mias, "mini-MIAS: Info.txt and mdbNNN.pgm or mdbNNN.png"},
    {"inbreast", read_inbreast, "INbreast: AllDICOMs/, AllXML/ (plist ROIs), INbreast.csv"},
    {"bcsdbt", read_bcsdbt, "BCS-DBT: the file-paths, labels and boxes CSVs and DICOM volumes"},
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
    load_dicom_sample(sample);  // LUTs and window; BCS-DBT slices as the reference reader (dicom.h)
    return;
  }
  DecodedImage decoded;
  if (is_png_or_pgm(sample.file)) {
    decoded = read_image(sample.file);
  } else {
    throw Error(sample.file + ": image of " + sample.image_id +
                " is not a DICOM, PNG or binary PGM file (or cannot be opened)");
  }
  if ((sample.width != 0 && decoded.info.width != sample.width) ||
      (sample.height != 0 && decoded.info.height != sample.height))
    throw Error(sample.file + ": image is " + std::to_string(decoded.info.width) + "x" +
                std::to_string(decoded.info.height) + " but the annotations of " + sample.image_id +
                " say " + std::to_string(sample.width) + "x" + std::to_string(sample.height));
  sample.width = decoded.info.width;
  sample.height = decoded.info.height;
  sample.bit_depth = decoded.info.bit_depth;
  sample.image = to_unit_255(decoded.pixels, decoded.info.max_value);
}

}  // namespace mbmd::data
