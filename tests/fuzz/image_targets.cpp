// Image files: each target reads the header first, as the dataset readers do, then decodes.
#include "fuzz_input.h"
#include "mbmd/data/dicom.h"
#include "mbmd/data/image_limits.h"
#include "mbmd/data/pgm.h"
#include "mbmd/data/png.h"
#include "targets.h"

namespace mbmd::fuzz {
namespace {

// Lower than the product's limits so that a header claiming a large image costs milliseconds,
// not a gigabyte, per run; the limit check itself is the same code.
void use_small_image_limits() {
  static const bool done = [] {
    data::ImageLimits limits;
    limits.max_pixels = 1 << 22;
    limits.max_frames = 64;
    data::set_image_limits(limits);
    return true;
  }();
  (void)done;
}

}  // namespace

int pgm(const uint8_t* data, size_t size) {
  use_small_image_limits();
  const std::string path = write_input("input.pgm", data, size);
  return accept_named_errors([&] {
    data::is_pgm_file(path);
    data::read_pgm_info(path);
    data::read_pgm(path);
  });
}

int png(const uint8_t* data, size_t size) {
  use_small_image_limits();
  const std::string path = write_input("input.png", data, size);
  return accept_named_errors([&] {
    data::is_png_file(path);
    data::read_png_info(path);
    data::read_png(path);
  });
}

int dicom(const uint8_t* data, size_t size) {
  use_small_image_limits();
  const std::string path = write_input("input.dcm", data, size);
  return accept_named_errors([&] {
    data::is_dicom_file(path);
    data::read_dicom_info(path);
    data::read_dicom(path);
  });
}

}  // namespace mbmd::fuzz
