#include "mbmd/data/pgm.h"

#include <cctype>
#include <cstring>
#include <fstream>
#include <sstream>

#include "mbmd/core/atomic_file.h"
#include "mbmd/core/error.h"

namespace mbmd::data {
namespace {

struct PgmHeader {
  ImageInfo info;
  std::size_t data_offset = 0;
};

int bits_for(int max_value) {
  int bits = 0;
  while ((1 << bits) - 1 < max_value) ++bits;
  return bits;
}

// Parses "P5 <ws> width <ws> height <ws> maxval <one ws>", with '#' comments (to end of line)
// allowed wherever whitespace is, as the Netpbm specification says.
PgmHeader parse_header(const std::string& path, const std::string& head) {
  if (head.size() < 2 || head[0] != 'P' || head[1] != '5') {
    if (head.size() >= 2 && head[0] == 'P' && head[1] >= '1' && head[1] <= '7')
      throw Error(path + ": PGM type P" + std::string(1, head[1]) +
                  " is not supported (only binary greyscale P5)");
    throw Error(path + ": not a binary PGM file (no P5 magic)");
  }
  std::size_t pos = 2;
  auto next_number = [&](const char* what) {
    // Skip whitespace and comments.
    for (;;) {
      if (pos >= head.size()) throw Error(path + ": truncated PGM header (no " + what + ")");
      const char c = head[pos];
      if (c == '#') {
        while (pos < head.size() && head[pos] != '\n' && head[pos] != '\r') ++pos;
      } else if (std::isspace(static_cast<unsigned char>(c))) {
        ++pos;
      } else {
        break;
      }
    }
    if (!std::isdigit(static_cast<unsigned char>(head[pos])))
      throw Error(path + ": malformed PGM header: expected the " + std::string(what) + ", found '" +
                  std::string(1, head[pos]) + "'");
    long value = 0;
    while (pos < head.size() && std::isdigit(static_cast<unsigned char>(head[pos]))) {
      value = value * 10 + (head[pos] - '0');
      if (value > 1000000) throw Error(path + ": malformed PGM header: " + what + " too large");
      ++pos;
    }
    if (pos >= head.size()) throw Error(path + ": truncated PGM header (after the " + what + ")");
    return static_cast<int>(value);
  };
  PgmHeader header;
  header.info.format = "pgm";
  header.info.width = next_number("width");
  header.info.height = next_number("height");
  header.info.max_value = next_number("maxval");
  if (header.info.width <= 0 || header.info.height <= 0)
    throw Error(path + ": malformed PGM header: size " + std::to_string(header.info.width) + "x" +
                std::to_string(header.info.height));
  if (header.info.max_value <= 0 || header.info.max_value > 65535)
    throw Error(path + ": malformed PGM header: maxval " + std::to_string(header.info.max_value) +
                " (must be 1..65535)");
  if (!std::isspace(static_cast<unsigned char>(head[pos])))
    throw Error(path + ": malformed PGM header: no whitespace after maxval");
  header.data_offset = pos + 1;
  header.info.bit_depth = bits_for(header.info.max_value);
  header.info.channels = 1;
  return header;
}

std::string read_head(const std::string& path, std::size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the file");
  std::string head(limit, '\0');
  in.read(head.data(), static_cast<std::streamsize>(limit));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return head;
}

}  // namespace

bool is_pgm_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[2] = {0, 0};
  return in.read(magic, 2) && magic[0] == 'P' && magic[1] == '5';
}

ImageInfo read_pgm_info(const std::string& path) {
  // Headers are short, but comments can make them long; 64 KiB is more than any real one.
  return parse_header(path, read_head(path, 1 << 16)).info;
}

DecodedImage read_pgm(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  const PgmHeader header = parse_header(path, bytes.substr(0, 1 << 16));
  const ImageInfo& info = header.info;
  const std::size_t sample_bytes = info.max_value < 256 ? 1 : 2;
  const std::size_t count = static_cast<std::size_t>(info.width) * info.height;
  const std::size_t expected = count * sample_bytes;
  const std::size_t available = bytes.size() - header.data_offset;
  if (available < expected)
    throw Error(path + ": truncated PGM: expected " + std::to_string(expected) +
                " bytes of pixel data, found " + std::to_string(available));
  at::Tensor pixels = at::empty({info.height, info.width}, at::kFloat);
  float* out = pixels.data_ptr<float>();
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data() + header.data_offset);
  int largest = 0;
  if (sample_bytes == 1) {
    for (std::size_t i = 0; i < count; ++i) {
      largest = std::max<int>(largest, data[i]);
      out[i] = static_cast<float>(data[i]);
    }
  } else {
    for (std::size_t i = 0; i < count; ++i) {
      const int v = (data[2 * i] << 8) | data[2 * i + 1];  // most significant byte first
      largest = std::max(largest, v);
      out[i] = static_cast<float>(v);
    }
  }
  if (largest > info.max_value)
    throw Error(path + ": malformed PGM: pixel value " + std::to_string(largest) +
                " exceeds maxval " + std::to_string(info.max_value));
  return {info, pixels};
}

void write_pgm(const std::string& path, const at::Tensor& pixels, int max_value) {
  if (pixels.dim() != 2)
    throw Error(path + ": write_pgm needs a [H, W] tensor, got " + std::to_string(pixels.dim()) +
                " dimensions");
  if (max_value <= 0 || max_value > 65535)
    throw Error(path + ": write_pgm: maxval " + std::to_string(max_value) + " (must be 1..65535)");
  const at::Tensor values =
      pixels.to(at::kFloat).round().clamp(0, max_value).to(at::kInt).contiguous();
  const int height = static_cast<int>(values.size(0));
  const int width = static_cast<int>(values.size(1));
  std::string bytes = "P5\n" + std::to_string(width) + " " + std::to_string(height) + "\n" +
                      std::to_string(max_value) + "\n";
  const std::size_t header = bytes.size();
  const std::size_t count = static_cast<std::size_t>(width) * height;
  const int* v = values.data_ptr<int>();
  if (max_value < 256) {
    bytes.resize(header + count);
    for (std::size_t i = 0; i < count; ++i) bytes[header + i] = static_cast<char>(v[i]);
  } else {
    bytes.resize(header + 2 * count);
    for (std::size_t i = 0; i < count; ++i) {
      bytes[header + 2 * i] = static_cast<char>(v[i] >> 8);
      bytes[header + 2 * i + 1] = static_cast<char>(v[i] & 0xff);
    }
  }
  write_file_atomic(path, bytes);
}

}  // namespace mbmd::data
