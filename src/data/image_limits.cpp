#include "mbmd/data/image_limits.h"

#include <atomic>

#include "mbmd/core/error.h"

namespace mbmd::data {
namespace {

std::atomic<int64_t> g_max_pixels{ImageLimits{}.max_pixels};
std::atomic<int64_t> g_max_frames{ImageLimits{}.max_frames};

}  // namespace

ImageLimits image_limits() { return {g_max_pixels.load(), g_max_frames.load()}; }

void set_image_limits(const ImageLimits& limits) {
  if (limits.max_pixels < 1 || limits.max_frames < 1)
    throw Error("config keys data.max_pixels and data.max_frames must be >= 1, got " +
                std::to_string(limits.max_pixels) + " and " + std::to_string(limits.max_frames));
  g_max_pixels = limits.max_pixels;
  g_max_frames = limits.max_frames;
}

std::string image_size_problem(const std::string& file, int64_t width, int64_t height,
                               int64_t frames) {
  const ImageLimits limits = image_limits();
  if (width > 0 && height > 0 && width > limits.max_pixels / height)
    return file + ": the image declares " + std::to_string(width) + "x" + std::to_string(height) +
           " pixels, over the limit of " + std::to_string(limits.max_pixels) +
           " (config key data.max_pixels)";
  if (frames > limits.max_frames)
    return file + ": the file declares " + std::to_string(frames) + " frames, over the limit of " +
           std::to_string(limits.max_frames) + " (config key data.max_frames)";
  return "";
}

void check_image_size(const std::string& file, int64_t width, int64_t height, int64_t frames) {
  const std::string problem = image_size_problem(file, width, height, frames);
  if (!problem.empty()) throw Error(problem);
}

}  // namespace mbmd::data
