// DICOM decoding: a decoder program of its own parses the file and decompresses the pixel data
// with GDCM (src/dicom_decoder); the stored-value extraction, modality LUT, VOI (window or LUT) and
// MONOCHROME1 inversion are done here, so that every transfer syntax goes through the same,
// tested arithmetic.
#include "mbmd/data/dicom.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "dicom_decoder_client.h"
#include "mbmd/core/error.h"

namespace mbmd::data {
namespace {

// Stored values -> modality values through a table over every possible raw word, so that the
// masking of unused high bits, sign extension and rescale cost one lookup per pixel.
at::Tensor decode_values(const char* buffer, size_t count, int bits, int high_bit,
                         const DicomImage& info) {
  const int shift = std::max(high_bit + 1 - bits, 0);
  const uint32_t mask = (1u << bits) - 1u;
  const size_t words = info.bits_allocated == 8 ? 256 : 65536;
  std::vector<float> table(words);
  for (size_t raw = 0; raw < words; ++raw) {
    uint32_t v = (static_cast<uint32_t>(raw) >> shift) & mask;
    int64_t value = v;
    if (info.is_signed && (v >> (bits - 1)) & 1u)
      value = static_cast<int64_t>(v) - (int64_t{1} << bits);
    table[raw] = static_cast<float>(static_cast<double>(value) * info.rescale_slope +
                                    info.rescale_intercept);
  }
  at::Tensor out = at::empty({static_cast<int64_t>(count)}, at::kFloat);
  float* dst = out.data_ptr<float>();
  if (info.bits_allocated == 8) {
    const auto* src = reinterpret_cast<const uint8_t*>(buffer);
    for (size_t i = 0; i < count; ++i) dst[i] = table[src[i]];
  } else {
    for (size_t i = 0; i < count; ++i) {
      uint16_t w;
      std::memcpy(&w, buffer + 2 * i, 2);
      dst[i] = table[w];
    }
  }
  return out;
}

WindowFunction resolve_function(const DicomOptions& options, const DicomImage& info) {
  if (options.window_function != WindowFunction::from_file) return options.window_function;
  if (info.voi_function == "LINEAR_EXACT") return WindowFunction::linear_exact;
  if (info.voi_function == "SIGMOID") return WindowFunction::sigmoid;
  return WindowFunction::linear;
}

at::Tensor shape_pixels(at::Tensor flat, const DicomImage& info, bool one_frame) {
  if (one_frame || info.frames == 1) return flat.view({info.rows, info.cols});
  return flat.view({info.frames, info.rows, info.cols});
}

}  // namespace

at::Tensor apply_voi(const at::Tensor& values, const DicomImage& info,
                     const DicomOptions& options) {
  at::Tensor x = values.to(at::kFloat);
  at::Tensor out;
  if (info.has_window) {
    const double c = info.window_center, w = info.window_width;
    switch (resolve_function(options, info)) {
      case WindowFunction::linear:
        if (w < 1.0)
          throw Error(info.file + ": window width " + std::to_string(w) +
                      " is below 1 (DICOM LINEAR needs width >= 1)");
        if (w == 1.0) {
          out = at::where(x <= c - 0.5, at::zeros_like(x), at::full_like(x, 255.0));
        } else {
          out = (((x - (c - 0.5)) / (w - 1.0) + 0.5) * 255.0).clamp(0.0, 255.0);
        }
        break;
      case WindowFunction::linear_exact:
      case WindowFunction::from_file:
        if (w <= 0.0)
          throw Error(info.file + ": window width " + std::to_string(w) + " is not positive");
        out = (((x - c) / w + 0.5) * 255.0).clamp(0.0, 255.0);
        break;
      case WindowFunction::sigmoid:
        if (w <= 0.0)
          throw Error(info.file + ": window width " + std::to_string(w) + " is not positive");
        out = 255.0 / (1.0 + at::exp(-4.0 * (x - c) / w));
        break;
    }
  } else if (!info.voi_lut.table.empty()) {
    const auto& lut = info.voi_lut;
    const int64_t n = static_cast<int64_t>(lut.table.size());
    at::Tensor table = at::from_blob(const_cast<float*>(lut.table.data()), {n}, at::kFloat);
    at::Tensor index = (x - lut.first_mapped).floor().clamp(0, n - 1).to(at::kLong);
    out = table.index_select(0, index.flatten()).view(x.sizes()) *
          (255.0 / (std::ldexp(1.0, lut.bits) - 1.0));
  } else {
    double lo = 0.0, hi = 0.0;
    if (options.no_window == NoWindow::bit_range) {
      const double smin = info.is_signed ? -std::ldexp(1.0, info.bits_stored - 1) : 0.0;
      const double smax = info.is_signed ? std::ldexp(1.0, info.bits_stored - 1) - 1.0
                                         : std::ldexp(1.0, info.bits_stored) - 1.0;
      const double a = smin * info.rescale_slope + info.rescale_intercept;
      const double b = smax * info.rescale_slope + info.rescale_intercept;
      lo = std::min(a, b);
      hi = std::max(a, b);
    } else if (x.numel() > 0) {
      lo = x.min().item<double>();
      hi = x.max().item<double>();
    }
    out = hi > lo ? ((x - lo) * (255.0 / (hi - lo))).clamp(0.0, 255.0) : at::zeros_like(x);
  }
  if (info.photometric == "MONOCHROME1") out = 255.0 - out;
  return out.contiguous();
}

DicomImage read_dicom_info(const std::string& path) {
  DicomImage info;
  static_cast<DicomHeader&>(info) = run_dicom_decoder(path, true, 0, 0).header;
  return info;
}

DicomImage read_dicom(const std::string& path, const DicomOptions& options) {
  const DecoderAnswer answer = run_dicom_decoder(path, false, options.frame, options.window_index);
  DicomImage info;
  static_cast<DicomHeader&>(info) = answer.header;
  const bool one_frame = options.frame >= 0;
  const size_t count = static_cast<size_t>(info.rows) * info.cols * (one_frame ? 1 : info.frames);
  const char* words = reinterpret_cast<const char*>(answer.words.data_ptr<uint8_t>());
  const at::Tensor values = shape_pixels(
      decode_values(words, count, answer.bits_stored, answer.high_bit, info), info, one_frame);
  info.pixels = options.modality_only ? values : apply_voi(values, info, options);
  return info;
}

}  // namespace mbmd::data
