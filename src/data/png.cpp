#include "mbmd/data/png.h"

#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include "mbmd/core/atomic_file.h"
#include "mbmd/core/error.h"
#include "mbmd/data/image_limits.h"

namespace mbmd::data {
namespace {

// libpng reports errors by longjmp. Everything between setjmp and a possible longjmp below is
// plain C (no objects with destructors are created there), and the message is kept here so that
// the C++ exception is thrown only after libpng has been left.
struct PngErrorSink {
  char message[256] = {0};
};

void on_png_error(png_structp png, png_const_charp message) {
  auto* sink = static_cast<PngErrorSink*>(png_get_error_ptr(png));
  std::snprintf(sink->message, sizeof(sink->message), "%s", message);
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

// What the decoder hands back: interleaved samples after libpng's transformations.
struct RawPng {
  png_uint_32 width = 0, height = 0;
  int file_bit_depth = 0, file_color_type = 0;
  int bit_depth = 0, channels = 0;  // after the transformations: 8/16, 1 (grey) or 3 (RGB)
  std::vector<unsigned char> data;
  std::vector<png_bytep> rows;
  bool over_limits = false;  // the header asks for more pixels than data.max_pixels allows
};

// Reads the header (and the pixels when `pixels`); returns false with sink->message set on error.
bool decode_png(std::FILE* file, bool pixels, RawPng* raw, PngErrorSink* sink) {
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, sink, on_png_error, on_png_warning);
  if (!png) {
    std::snprintf(sink->message, sizeof(sink->message), "out of memory");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    std::snprintf(sink->message, sizeof(sink->message), "out of memory");
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_init_io(png, file);
  png_read_info(png, info);
  raw->width = png_get_image_width(png, info);
  raw->height = png_get_image_height(png, info);
  raw->file_bit_depth = png_get_bit_depth(png, info);
  raw->file_color_type = png_get_color_type(png, info);
  if (pixels && !image_size_problem("", raw->width, raw->height).empty()) {
    // Checked before libpng allocates anything for the pixels.
    raw->over_limits = true;
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  if (pixels) {
    if (raw->file_color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (raw->file_color_type == PNG_COLOR_TYPE_GRAY && raw->file_bit_depth < 8)
      png_set_expand_gray_1_2_4_to_8(png);
    if (raw->file_color_type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    raw->bit_depth = png_get_bit_depth(png, info);
    raw->channels = png_get_channels(png, info);
    const png_size_t row_bytes = png_get_rowbytes(png, info);
    raw->data.resize(row_bytes * raw->height);
    raw->rows.resize(raw->height);
    for (png_uint_32 y = 0; y < raw->height; ++y) raw->rows[y] = raw->data.data() + y * row_bytes;
    png_read_image(png, raw->rows.data());
    png_read_end(png, nullptr);
  }
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

RawPng read_raw(const std::string& path, bool pixels) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) throw Error(path + ": cannot open the file");
  unsigned char signature[8] = {0};
  const std::size_t got = std::fread(signature, 1, 8, file);
  if (got != 8 || png_sig_cmp(signature, 0, 8) != 0) {
    std::fclose(file);
    throw Error(path + ": not a PNG file (bad signature)");
  }
  std::rewind(file);
  RawPng raw;
  PngErrorSink sink;
  const bool ok = decode_png(file, pixels, &raw, &sink);
  std::fclose(file);
  if (raw.over_limits) check_image_size(path, raw.width, raw.height);
  if (!ok) {
    std::string reason = sink.message;
    // libpng says "Read Error" when the file ends early.
    if (reason == "Read Error") reason = "file truncated";
    throw Error(path + ": malformed PNG: " + reason);
  }
  return raw;
}

ImageInfo info_of(const RawPng& raw) {
  ImageInfo info;
  info.format = "png";
  info.width = static_cast<int>(raw.width);
  info.height = static_cast<int>(raw.height);
  info.bit_depth = raw.file_bit_depth == 16 ? 16 : 8;  // palette and 1/2/4-bit grey expand to 8
  info.max_value = (1 << info.bit_depth) - 1;
  info.channels = (raw.file_color_type & PNG_COLOR_MASK_COLOR) ? 3 : 1;
  return info;
}

void write_to_string(png_structp png, png_bytep data, png_size_t length) {
  auto* out = static_cast<std::string*>(png_get_io_ptr(png));
  out->append(reinterpret_cast<const char*>(data), length);
}

void flush_nothing(png_structp) {}

bool encode_png(std::string* out, png_uint_32 width, png_uint_32 height, int bit_depth,
                std::vector<png_bytep>* rows, PngErrorSink* sink) {
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, sink, on_png_error, on_png_warning);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, out, write_to_string, flush_nothing);
  png_set_IHDR(png, info, width, height, bit_depth, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows->data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

bool is_png_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char signature[8] = {0};
  if (!in.read(reinterpret_cast<char*>(signature), 8)) return false;
  return png_sig_cmp(signature, 0, 8) == 0;
}

ImageInfo read_png_info(const std::string& path) { return info_of(read_raw(path, false)); }

DecodedImage read_png(const std::string& path) {
  const RawPng raw = read_raw(path, true);
  const ImageInfo info = info_of(raw);
  at::Tensor pixels = at::empty({info.height, info.width}, at::kFloat);
  float* out = pixels.data_ptr<float>();
  const int bytes_per_sample = raw.bit_depth == 16 ? 2 : 1;
  const unsigned char* in = raw.data.data();
  const std::size_t row_bytes = raw.data.size() / raw.height;
  for (int y = 0; y < info.height; ++y) {
    const unsigned char* row = in + y * row_bytes;
    float* dst = out + static_cast<std::size_t>(y) * info.width;
    for (int x = 0; x < info.width; ++x) {
      float v[3];
      for (int c = 0; c < raw.channels; ++c) {
        const unsigned char* s =
            row + (static_cast<std::size_t>(x) * raw.channels + c) * bytes_per_sample;
        // PNG stores 16-bit samples most significant byte first.
        v[c] = bytes_per_sample == 2 ? static_cast<float>((s[0] << 8) | s[1])
                                     : static_cast<float>(s[0]);
      }
      dst[x] = raw.channels == 1 ? v[0] : 0.299f * v[0] + 0.587f * v[1] + 0.114f * v[2];
    }
  }
  return {info, pixels};
}

void write_png(const std::string& path, const at::Tensor& pixels, int bit_depth) {
  if (bit_depth != 8 && bit_depth != 16)
    throw Error(path + ": PNG bit depth must be 8 or 16, got " + std::to_string(bit_depth));
  if (pixels.dim() != 2 || pixels.size(0) == 0 || pixels.size(1) == 0)
    throw Error(path + ": write_png needs a non-empty [H, W] tensor");
  const int max_value = (1 << bit_depth) - 1;
  const at::Tensor values =
      pixels.to(at::kFloat).round().clamp(0, max_value).to(at::kInt).contiguous();
  const auto height = static_cast<png_uint_32>(values.size(0));
  const auto width = static_cast<png_uint_32>(values.size(1));
  const int bytes_per_sample = bit_depth / 8;
  std::vector<unsigned char> data(static_cast<std::size_t>(width) * height * bytes_per_sample);
  const int* v = values.data_ptr<int>();
  for (std::size_t i = 0; i < static_cast<std::size_t>(width) * height; ++i) {
    if (bytes_per_sample == 1) {
      data[i] = static_cast<unsigned char>(v[i]);
    } else {
      data[2 * i] = static_cast<unsigned char>(v[i] >> 8);
      data[2 * i + 1] = static_cast<unsigned char>(v[i] & 0xff);
    }
  }
  std::vector<png_bytep> rows(height);
  for (png_uint_32 y = 0; y < height; ++y)
    rows[y] = data.data() + static_cast<std::size_t>(y) * width * bytes_per_sample;
  std::string encoded;
  PngErrorSink sink;
  if (!encode_png(&encoded, width, height, bit_depth, &rows, &sink))
    throw Error(path + ": PNG encoding failed: " + std::string(sink.message));
  write_file_atomic(path, encoded);
}

}  // namespace mbmd::data
