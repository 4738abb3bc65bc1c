// DICOM decoding (docs/design.md, "Datasets"; issue 8): one frame or all frames of a grey image,
// with the modality LUT (rescale slope/intercept), the VOI LUT or window, and MONOCHROME1 inversion
// applied, scaled to 0..255 in float without rounding. GDCM does the parsing and decompression
// (JPEG 2000, JPEG-LS, JPEG lossless, RLE) in a decoder program of its own, so that a file which
// crashes GDCM is an mbmd::Error, not the end of the process (docs/reliability.md); everything
// after the stored values is ours.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "mbmd/data/dicom_header.h"
#include "mbmd/data/sample.h"

namespace mbmd::data {

// The header fields (DicomHeader) and the pixels.
struct DicomImage : DicomHeader {
  // float32 [F, H, W] (every frame of a multi-frame object), or [H, W] (one frame); values in
  // 0..255 unless DicomOptions::modality_only. Undefined from read_dicom_info().
  at::Tensor pixels;
};

// Decodes the file. Throws mbmd::Error naming the file when it is missing, is not DICOM, holds no
// pixel data, uses a transfer syntax GDCM cannot decode, is not greyscale, is over the image
// limits, makes the decoder program crash, or the frame is out of range.
DicomImage read_dicom(const std::string& path, const DicomOptions& options = {});

// The header only (size, bits, photometric, laterality, view, patient, window); no pixel data
// is read, so it is cheap even for large volumes.
DicomImage read_dicom_info(const std::string& path);

// The VOI step on modality values (any shape): window (or VOI LUT, or the NoWindow fallback) to
// 0..255, then the MONOCHROME1 inversion, as read_dicom() does after the modality LUT.
at::Tensor apply_voi(const at::Tensor& modality_values, const DicomImage& info,
                     const DicomOptions& options = {});

// True when the file is DICOM Part 10 ("DICM" after the 128-byte preamble).
bool is_dicom_file(const std::string& path);

// Decodes a DICOM sample into sample.image (float32 [H, W], 0..255) and checks its size against
// sample.width x sample.height. A 2D film (frame -1) is decoded with its own LUTs; a slice of a
// volume (frame >= 0) too, unless sample.slice_display names a dataset that shows its slices its
// own way (load_dataset_slice).
void load_dicom_sample(Sample& sample);

}  // namespace mbmd::data
