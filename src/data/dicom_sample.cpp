// Loading a DICOM sample's pixels (the branch of load_sample_image() for DICOM files).
#include <cstring>
#include <fstream>

#include "mbmd/core/error.h"
#include "mbmd/data/bcsdbt.h"
#include "mbmd/data/dicom.h"

namespace mbmd::data {

bool is_dicom_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[132];
  return in.read(head, sizeof head) && std::memcmp(head + 128, "DICM", 4) == 0;
}

void load_dicom_sample(Sample& sample) {
  at::Tensor image;
  int bits = 0;
  if (sample.frame >= 0) {
    // A slice of a tomosynthesis volume: its boxes are in the BCS-DBT reference reader's frame.
    image = load_bcsdbt_slice(sample.file, sample.frame, sample.laterality);
  } else {
    DicomImage decoded = read_dicom(sample.file);
    if (decoded.pixels.dim() != 2)
      throw Error(sample.file + ": " + std::to_string(decoded.frames) + " frames, but sample " +
                  sample.image_id + " names no frame");
    image = decoded.pixels;
    bits = decoded.bits_stored;
  }
  const int height = static_cast<int>(image.size(0)), width = static_cast<int>(image.size(1));
  if ((sample.width != 0 && width != sample.width) ||
      (sample.height != 0 && height != sample.height))
    throw Error(sample.file + ": image is " + std::to_string(width) + "x" + std::to_string(height) +
                " but the annotations of " + sample.image_id + " say " +
                std::to_string(sample.width) + "x" + std::to_string(sample.height));
  sample.width = width;
  sample.height = height;
  if (bits > 0) sample.bit_depth = bits;
  sample.image = image;
}

}  // namespace mbmd::data
