#include "mbmd/data/image_io.h"

#include <unistd.h>

#include <cstdio>
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

}  // namespace

bool is_png_or_pgm(const std::string& path) { return is_png_file(path) || is_pgm_file(path); }

ImageInfo read_image_info(const std::string& path) {
  if (is_png_file(path)) return read_png_info(path);
  if (looks_like_netpbm(path)) return read_pgm_info(path);
  std::ifstream probe(path, std::ios::binary);
  if (!probe) throw Error(path + ": cannot open the file");
  throw Error(path + ": not a PNG or binary PGM (P5) file");
}

DecodedImage read_image(const std::string& path) {
  if (is_png_file(path)) return read_png(path);
  if (looks_like_netpbm(path)) return read_pgm(path);
  std::ifstream probe(path, std::ios::binary);
  if (!probe) throw Error(path + ": cannot open the file");
  throw Error(path + ": not a PNG or binary PGM (P5) file");
}

at::Tensor to_unit_255(const at::Tensor& pixels, int max_value) {
  if (max_value <= 0)
    throw Error("to_unit_255: max_value must be positive, got " + std::to_string(max_value));
  if (max_value == 255) return pixels;
  return pixels * (255.0f / static_cast<float>(max_value));
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  // The temporary name is unique per process so that concurrent writers never share one.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error(path + ": cannot write the file (cannot create " + tmp + ")");
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed) {
    std::remove(tmp.c_str());
    throw Error(path + ": writing failed (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot rename " + tmp + " to it");
  }
}

}  // namespace mbmd::data
