// PNG decoding (8/16-bit grey, RGB or palette converted to grey) and writing (8/16-bit grey),
// through libpng.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "mbmd/data/image_io.h"

namespace mbmd::data {

bool is_png_file(const std::string& path);

// The IHDR of a PNG file (no pixel data is read).
ImageInfo read_png_info(const std::string& path);

// Decodes to float32 [H, W] with the stored values (0..255 or 0..65535). Colour is converted to
// grey with the ITU-R BT.601 weights 0.299 R + 0.587 G + 0.114 B (as PIL's convert("L"), without
// its rounding); alpha is dropped; 1/2/4-bit grey is expanded to 8 bits (0..255).
DecodedImage read_png(const std::string& path);

// Writes a float [H, W] tensor of values 0..2^bit_depth-1 as an 8- or 16-bit grey PNG, atomically.
// Values are rounded to the nearest integer and clamped to the range.
void write_png(const std::string& path, const at::Tensor& pixels, int bit_depth);

}  // namespace mbmd::data
