#include "mbmd/data/image_io.h"

#include <fstream>

#include "mbmd/core/error.h"
#include "mbmd/data/pgm.h"
#include "mbmd/data/png.h"

namespace mbmd::data {
namespace {

// Any Netpbm magic ("P1".."P7"): the PGM reader then says which types it does not support.
bool looks_like_netpbm(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[2] = {0, 0};
  return in.read(magic, 2) && magic[0] == 'P' && magic[1] >= '1' && magic[1] <= '7';
}

enum class FileFormat { png, pgm };

// The format by the magic bytes; mbmd::Error naming the file when it is neither.
FileFormat format_of(const std::string& path) {
  if (is_png_file(path)) return FileFormat::png;
  if (looks_like_netpbm(path)) return FileFormat::pgm;
  std::ifstream probe(path, std::ios::binary);
  if (!probe) throw Error(path + ": cannot open the file");
  throw Error(path + ": not a PNG or binary PGM (P5) file");
}

}  // namespace

bool is_png_or_pgm(const std::string& path) { return is_png_file(path) || is_pgm_file(path); }

ImageInfo read_image_info(const std::string& path) {
  return format_of(path) == FileFormat::png ? read_png_info(path) : read_pgm_info(path);
}

DecodedImage read_image(const std::string& path) {
  return format_of(path) == FileFormat::png ? read_png(path) : read_pgm(path);
}

at::Tensor to_unit_255(const at::Tensor& pixels, int max_value) {
  if (max_value <= 0)
    throw Error("to_unit_255: max_value must be positive, got " + std::to_string(max_value));
  if (max_value == 255) return pixels;
  return pixels * (255.0f / static_cast<float>(max_value));
}

}  // namespace mbmd::data
