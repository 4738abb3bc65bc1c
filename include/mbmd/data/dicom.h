// DICOM decoding (docs/design.md, "Datasets"; issue 8): one frame or all frames of a grey image,
// with the modality LUT (rescale slope/intercept), the VOI LUT or window, and MONOCHROME1 inversion
// applied, scaled to 0..255 in float without rounding. GDCM does the parsing and decompression
// (JPEG 2000, JPEG-LS, JPEG lossless, RLE); everything after the stored values is ours.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "mbmd/data/sample.h"

namespace mbmd::data {

// How a window (centre c, width w) maps values to 0..255 (DICOM PS3.3 C.11.2.1.2/3).
enum class WindowFunction {
  from_file,     // the file's VOI LUT Function (0028,1056); LINEAR when absent
  linear,        // DICOM LINEAR: 0 below c - 0.5 - (w - 1) / 2, 255 above c - 0.5 + (w - 1) / 2
  linear_exact,  // DICOM LINEAR_EXACT: linear from c - w / 2 to c + w / 2 (skimage
                 // rescale_intensity)
  sigmoid,       // DICOM SIGMOID: 255 / (1 + exp(-4 (x - c) / w))
};

// What to do when a file has neither a window nor a VOI LUT sequence.
enum class NoWindow {
  min_max,    // stretch the decoded values' minimum..maximum to 0..255
  bit_range,  // stretch the range the stored bits can hold (after the modality LUT) to 0..255
};

struct DicomOptions {
  // -1: every frame ([F, H, W] for a multi-frame object, [H, W] for a single frame);
  // otherwise this frame only, as [H, W] (for compressed volumes only that frame is decoded
  // where GDCM can, otherwise the whole volume is decoded and the frame cut out).
  int frame = -1;
  // true: stop after the modality LUT (values in modality units, no VOI, no inversion, no
  // scaling); apply_voi() does the rest later. Used where a decision needs the raw values first
  // (the BCS-DBT laterality flip).
  bool modality_only = false;
  WindowFunction window_function = WindowFunction::from_file;
  NoWindow no_window = NoWindow::min_max;
  // Which window to use when the file lists several (0028,1050 is multi-valued).
  int window_index = 0;
};

// A VOI LUT from the VOI LUT Sequence (0028,3010): values below first_mapped take lut[0], values at
// or above first_mapped + size - 1 take the last entry; the output is scaled by 255 / (2^bits - 1).
struct VoiLut {
  double first_mapped = 0;
  int bits = 16;
  std::vector<float> table;
};

struct DicomImage {
  std::string file;
  int rows = 0;
  int cols = 0;
  int frames = 1;
  int bits_allocated = 16;
  int bits_stored = 16;
  int high_bit = 15;
  bool is_signed = false;
  std::string photometric;      // "MONOCHROME1" or "MONOCHROME2"
  std::string transfer_syntax;  // UID
  std::string sop_class;        // UID
  std::string laterality;       // "L", "R" or "" (0020,0062, 0020,0060 or the frame anatomy)
  std::string view;             // "CC", "MLO", ... or "" (0018,5101 or the view code sequence)
  std::string patient_id;       // (0010,0020)
  double rescale_slope = 1.0;   // modality LUT, from the top level or the functional groups
  double rescale_intercept = 0.0;
  bool has_window = false;  // window from (0028,1050/1051) or the Frame VOI LUT (0028,9132)
  double window_center = 0.0;
  double window_width = 0.0;
  std::string voi_function;  // (0028,1056) as written, "" when absent
  VoiLut voi_lut;            // empty table when the file has none
  // float32 [F, H, W] (every frame of a multi-frame object), or [H, W] (one frame); values in
  // 0..255 unless DicomOptions::modality_only. Undefined from read_dicom_info().
  at::Tensor pixels;
};

// Decodes the file. Throws mbmd::Error naming the file when it is missing, is not DICOM, holds no
// pixel data, uses a transfer syntax GDCM cannot decode, is not greyscale, or the frame is out
// of range.
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
