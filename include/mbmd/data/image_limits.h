// Limits on what one image may ask for, checked from its header before any pixel memory is
// allocated, so that a broken or hostile file (a PNG that declares 60000x60000 pixels) is a named
// error instead of gigabytes of memory. The defaults fit the largest real data with room to spare:
// mammograms of about 4000x5600 and tomosynthesis volumes of 50-100 frames of 2500x2000.
#pragma once

#include <cstdint>
#include <string>

namespace mbmd::data {

struct ImageLimits {
  int64_t max_pixels = 100'000'000;  // per frame (config key data.max_pixels)
  int64_t max_frames = 1000;         // per file (config key data.max_frames)
};

// The limits every reader checks (process-wide; the defaults until set).
ImageLimits image_limits();
void set_image_limits(const ImageLimits& limits);

// mbmd::Error naming `file`, its size and the config key over which it goes.
void check_image_size(const std::string& file, int64_t width, int64_t height, int64_t frames = 1);

// The same check's message, or "" when the size is within the limits (for decoders that must
// report errors without throwing).
std::string image_size_problem(const std::string& file, int64_t width, int64_t height,
                               int64_t frames = 1);

}  // namespace mbmd::data
