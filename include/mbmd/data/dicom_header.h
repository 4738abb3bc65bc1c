// What a DICOM file says about its image, without the pixels: the part of DICOM decoding that the
// isolated decoder program (src/dicom_decoder, docs/reliability.md) sends back to the product. It
// needs neither LibTorch nor GDCM, so that the decoder program starts in milliseconds.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

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

struct DicomHeader {
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
};

void to_json(nlohmann::json& j, const DicomHeader& h);
void from_json(const nlohmann::json& j, DicomHeader& h);

}  // namespace mbmd::data
