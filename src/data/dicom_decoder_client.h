// The product's side of the isolated DICOM decoder (src/dicom_decoder): finds the program, runs it
// on one file and reads its answer. A decoder that crashes or aborts on a file becomes an
// mbmd::Error naming the file, like any other unreadable file.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "mbmd/data/dicom_header.h"

namespace mbmd::data {

struct DecoderAnswer {
  DicomHeader header;
  int bits_stored = 16;  // GDCM's pixel format for the words (see StoredPixels)
  int high_bit = 15;
  at::Tensor words;  // uint8, the stored pixel words; empty for a header-only request
};

// The decoder program: $MBMD_DICOM_DECODER, else mbmd-dicom-decoder beside the running program, in
// ../libexec/mbmd from it (an installed tree), or in the build tree. Throws mbmd::Error listing
// where it looked when there is none.
std::string dicom_decoder_path();

// header_only: the header alone. Otherwise frame -1 (every frame) or one frame's words, and the
// window at window_index.
DecoderAnswer run_dicom_decoder(const std::string& path, bool header_only, int frame,
                                int window_index);

}  // namespace mbmd::data
