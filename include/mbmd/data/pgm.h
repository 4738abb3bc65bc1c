// Binary PGM ("P5", Netpbm), the format mini-MIAS is distributed in: 8-bit when maxval < 256,
// else 16-bit big-endian; '#' comments may appear anywhere in the header.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "mbmd/data/image_io.h"

namespace mbmd::data {

bool is_pgm_file(const std::string& path);

ImageInfo read_pgm_info(const std::string& path);

// Decodes to float32 [H, W] with the stored values 0..maxval.
DecodedImage read_pgm(const std::string& path);

// Writes float [H, W] values 0..max_value (rounded, clamped) as "P5\n<W> <H>\n<maxval>\n" + data,
// atomically: the exact header mini-MIAS uses.
void write_pgm(const std::string& path, const at::Tensor& pixels, int max_value = 255);

}  // namespace mbmd::data
