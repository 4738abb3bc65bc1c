// Decoding of the 2D image files the datasets ship (PNG, binary PGM) into float tensors, chosen by
// the file's magic bytes.
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace mbmd::data {

// What a file's header says, read without decoding the pixels.
struct ImageInfo {
  int width = 0;
  int height = 0;
  int bit_depth = 8;    // bits per stored grey value: 8 or 16 for PNG, bits of maxval for PGM
  int max_value = 255;  // largest value the file can hold (PGM maxval, 2^bit_depth - 1 for PNG)
  int channels = 1;     // 1 grey, 3 RGB as stored (decoding always gives grey)
  std::string format;   // "png" or "pgm"
};

// Pixels as stored: float32 [H, W], values 0..max_value (0..255 for 8-bit files), not rescaled.
struct DecodedImage {
  ImageInfo info;
  at::Tensor pixels;
};

// True when the file starts like a PNG or a binary PGM; the other readers (DICOM) use this to
// decide whether a file is theirs.
bool is_png_or_pgm(const std::string& path);

// Reads the header of a PNG or PGM file; throws mbmd::Error naming the file when it is neither,
// or when the header is truncated or malformed.
ImageInfo read_image_info(const std::string& path);

// Decodes a PNG or PGM file (chosen by its magic bytes, not its extension).
DecodedImage read_image(const std::string& path);

// Scales stored values to the 0..255 range of Sample::image (value * 255 / max_value, no rounding).
at::Tensor to_unit_255(const at::Tensor& pixels, int max_value);

}  // namespace mbmd::data
