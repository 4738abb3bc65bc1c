#include "mbmd/workflows/convert.h"

#include <filesystem>

#include "mbmd/core/error.h"
#include "mbmd/data/coco.h"
#include "mbmd/data/png.h"

namespace mbmd::engine {
namespace {

namespace fs = std::filesystem;

// A file name for an image id: ids of slices or hospital ids may hold path separators.
std::string png_name(const std::string& image_id) {
  std::string name = image_id;
  for (char& c : name)
    if (c == '/' || c == '\\') c = '_';
  return name + ".png";
}

// Decodes every sample and writes it as a PNG under `folder`; the samples then point at the PNGs.
// A sample that cannot be decoded is an error, or with skip_bad is dropped and listed.
void write_images(data::Dataset& dataset, const std::string& folder, int bits, bool skip_bad) {
  std::error_code error;
  fs::create_directories(folder, error);
  if (!fs::is_directory(folder)) throw Error(folder + ": cannot create the images folder");
  std::vector<data::Sample> kept;
  kept.reserve(dataset.samples.size());
  for (auto& sample : dataset.samples) {
    const bool ok = data::run_or_skip(skip_bad, sample.image_id, dataset.skipped, [&] {
      data::load_sample_image(sample);
      const int depth = bits > 0 ? bits : (sample.bit_depth > 8 ? 16 : 8);
      const float scale = static_cast<float>((1 << depth) - 1) / 255.0f;
      const std::string file = (fs::path(folder) / png_name(sample.image_id)).string();
      data::write_png(file, depth == 8 ? sample.image : sample.image * scale, depth);
      sample.file = file;
      sample.bit_depth = depth;
      sample.frame = -1;  // the PNG holds the slice itself
      sample.image = at::Tensor();
    });
    if (ok) kept.push_back(std::move(sample));
  }
  dataset.samples = std::move(kept);
}

}  // namespace

data::Dataset convert_dataset(const ConvertOptions& options) {
  data::Dataset dataset = data::read_dataset(options.dataset, options.read);
  data::CocoWriteOptions coco;
  coco.image_root = options.read.root;
  if (!options.images_out.empty()) {
    write_images(dataset, options.images_out, options.bits, options.read.skip_bad);
    coco.image_root = options.images_out;
  }
  data::write_coco(options.out, dataset, coco);
  return dataset;
}

}  // namespace mbmd::engine
