// mbmd-dicom-decoder: reads one DICOM file with GDCM in a process of its own, so that a file which
// makes GDCM abort or crash costs that file only (docs/reliability.md, "DICOM in its own
// process"). The product runs it for every DICOM read (src/data/dicom_decoder_client.cpp); it is
// not meant to be run by hand.
//
// Usage: mbmd-dicom-decoder [--header-only] [--frame N] [--window-index N] [--max-pixels N]
//                           [--max-frames N] FILE
// Answer on standard output: one line of JSON {"header": ..., "bits_stored": B, "high_bit": H,
// "bytes": N}, then N bytes of stored pixel words. A file it cannot read: the reason on standard
// error and exit status 2.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "gdcm_pixels.h"
#include "mbmd/core/error.h"
#include "mbmd/data/image_limits.h"
#include "memory_cap.h"

namespace {

using mbmd::dicom_decoder::StoredPixels;

struct Request {
  std::string file;
  bool header_only = false;
  int frame = -1;
  int window_index = 0;
  mbmd::data::ImageLimits limits;
};

long long number_after(int& i, int argc, char** argv) {
  const std::string flag = argv[i];
  if (++i >= argc) throw mbmd::Error("mbmd-dicom-decoder: " + flag + " needs a value");
  char* end = nullptr;
  const long long value = std::strtoll(argv[i], &end, 10);
  if (end == argv[i] || *end != '\0')
    throw mbmd::Error("mbmd-dicom-decoder: " + flag + " takes a whole number, got '" + argv[i] +
                      "'");
  return value;
}

Request parse(int argc, char** argv) {
  Request r;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--header-only") {
      r.header_only = true;
    } else if (arg == "--frame") {
      r.frame = static_cast<int>(number_after(i, argc, argv));
    } else if (arg == "--window-index") {
      r.window_index = static_cast<int>(number_after(i, argc, argv));
    } else if (arg == "--max-pixels") {
      r.limits.max_pixels = number_after(i, argc, argv);
    } else if (arg == "--max-frames") {
      r.limits.max_frames = number_after(i, argc, argv);
    } else if (r.file.empty() && !arg.empty() && arg[0] != '-') {
      r.file = arg;
    } else {
      throw mbmd::Error("mbmd-dicom-decoder: unexpected argument '" + arg + "'");
    }
  }
  if (r.file.empty()) throw mbmd::Error("mbmd-dicom-decoder: no file given");
  return r;
}

void write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) std::exit(4);  // the product stopped listening; nothing is left to tell it
    data += n;
    size -= static_cast<size_t>(n);
  }
}

void answer(int fd, const StoredPixels& pixels) {
  const nlohmann::json head = {{"header", pixels.header},
                               {"bits_stored", pixels.bits_stored},
                               {"high_bit", pixels.high_bit},
                               {"bytes", pixels.words.size()}};
  // Header text that is not UTF-8 (a patient ID in Latin-1) becomes U+FFFD instead of an error.
  const std::string line =
      head.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  write_all(fd, line.data(), line.size());
  write_all(fd, pixels.words.data(), pixels.words.size());
}

void run(const Request& r, int fd) {
  mbmd::data::set_image_limits(r.limits);
  std::error_code ec;
  const auto file_bytes = std::filesystem::file_size(r.file, ec);
  mbmd::dicom_decoder::cap_memory_for_file(ec ? 0 : file_bytes);
  StoredPixels pixels;
  if (r.header_only) {
    pixels.header = mbmd::dicom_decoder::read_header(r.file);
  } else {
    pixels = mbmd::dicom_decoder::read_pixels(r.file, r.frame, r.window_index);
  }
  answer(fd, pixels);
}

}  // namespace

int main(int argc, char** argv) {
  // The answer goes to a copy of standard output; whatever a library prints lands on stderr.
  const int answer_fd = ::dup(1);
  ::dup2(2, 1);
  try {
    run(parse(argc, argv), answer_fd);
    return 0;
  } catch (const mbmd::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr,
                 "%s: the file states lengths that need more memory than its size and its image "
                 "allow (damaged DICOM)\n",
                 argc > 1 ? argv[argc - 1] : "?");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "the DICOM decoder failed: %s\n", e.what());
    return 3;
  }
}
