// Loading a DICOM sample's pixels (the branch of load_sample_image() for DICOM files).
#include <cstring>
#include <fstream>

#include "mbmd/core/error.h"
#include "mbmd/data/dataset.h"
#include "mbmd/data/dicom.h"

namespace mbmd::data {
namespace {

// A 2D film with its own LUTs; a multi-frame file is an error, since the sample names no frame.
void load_film(Sample& sample) {
  const DicomImage decoded = read_dicom(sample.file);
  if (decoded.pixels.dim() != 2)
    throw Error(sample.file + ": " + std::to_string(decoded.frames) + " frames, but sample " +
                sample.image_id + " names no frame");
  set_sample_image(sample, decoded.pixels, decoded.bits_stored);
}

// One slice of a volume: with the file's own LUTs, or as the sample's dataset shows it.
void load_slice(Sample& sample) {
  if (!sample.slice_display.empty()) {
    set_sample_image(sample, load_dataset_slice(sample), 0);
    return;
  }
  DicomOptions one;
  one.frame = sample.frame;
  const DicomImage decoded = read_dicom(sample.file, one);
  set_sample_image(sample, decoded.pixels, decoded.bits_stored);
}

}  // namespace

bool is_dicom_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[132];
  return in.read(head, sizeof head) && std::memcmp(head + 128, "DICM", 4) == 0;
}

void load_dicom_sample(Sample& sample) {
  if (sample.frame < 0)
    load_film(sample);
  else
    load_slice(sample);
}

}  // namespace mbmd::data
