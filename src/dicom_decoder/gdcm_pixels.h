// The decoder program's reading with GDCM: the header alone, or the header and the stored pixel
// words of every frame or of one (gdcm_pixels.cpp).
#pragma once

#include <string>
#include <vector>

#include "mbmd/data/dicom_header.h"

namespace mbmd::dicom_decoder {

struct StoredPixels {
  data::DicomHeader header;
  // GDCM's pixel format for the words, which may be wider than the header's bits stored (a JPEG
  // 2000 stream may declare more); the words are masked and sign-extended by these.
  int bits_stored = 16;
  int high_bit = 15;
  // rows x cols words of bits_allocated bits for the frame asked for, or for every frame.
  std::vector<char> words;
};

// Throws mbmd::Error naming the file for anything it cannot read.
data::DicomHeader read_header(const std::string& path);

// frame -1: every frame; otherwise that frame only. Checks the size against the image limits
// before allocating.
StoredPixels read_pixels(const std::string& path, int frame, int window_index);

}  // namespace mbmd::dicom_decoder
