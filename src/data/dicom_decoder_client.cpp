#include "dicom_decoder_client.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "mbmd/core/child_process.h"
#include "mbmd/core/error.h"
#include "mbmd/core/strings.h"
#include "mbmd/data/image_limits.h"
#include "mbmd_paths.h"

namespace mbmd::data {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDecoderName = "mbmd-dicom-decoder";
constexpr size_t kMaxAnswerLine = 16u << 20;  // a header with a 65536-entry VOI LUT is ~1 MB

std::vector<fs::path> decoder_candidates() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> places;
  if (!ec) {
    places.push_back(self.parent_path() / kDecoderName);
    places.push_back(self.parent_path().parent_path() / "libexec" / "mbmd" / kDecoderName);
  }
  places.push_back(fs::path(MBMD_BINARY_DIR) / kDecoderName);
  return places;
}

std::vector<std::string> decoder_arguments(const std::string& path, bool header_only, int frame,
                                           int window_index) {
  const ImageLimits limits = image_limits();
  std::vector<std::string> argv = {dicom_decoder_path(), "--max-pixels",
                                   std::to_string(limits.max_pixels), "--max-frames",
                                   std::to_string(limits.max_frames)};
  if (header_only) {
    argv.push_back("--header-only");
  } else {
    argv.insert(argv.end(),
                {"--frame", std::to_string(frame), "--window-index", std::to_string(window_index)});
  }
  argv.push_back(path);
  return argv;
}

// The decoder's last words on standard error (GDCM's failed assertion, for one).
std::string last_line(const std::string& text) {
  const std::vector<std::string> lines = split(trim(text), '\n');
  return lines.empty() ? std::string() : trim(lines.back());
}

[[noreturn]] void throw_decoder_failure(const std::string& path, const ChildExit& end) {
  if (end.code == 2 && !trim(end.error_output).empty()) throw Error(trim(end.error_output));
  const std::string said = last_line(end.error_output);
  if (end.signal != 0)
    throw Error(path + ": the DICOM decoder was stopped by " + end.describe() +
                " while reading this file, which GDCM cannot handle (damaged or unusual)" +
                (said.empty() ? std::string() : ": " + said));
  throw Error(path + ": the DICOM decoder failed with " + end.describe() +
              (said.empty() ? std::string() : ": " + said));
}

// The answer's pixel words; their size must be what the header says, checked before allocating.
at::Tensor read_words(ChildProcess& child, const nlohmann::json& head, const DicomHeader& h,
                      int frame) {
  const int64_t frames = frame < 0 ? h.frames : 1;
  const int64_t expected = int64_t{h.rows} * h.cols * frames * (h.bits_allocated / 8);
  const int64_t bytes = head.at("bytes").get<int64_t>();
  if (bytes != expected)
    throw Error(h.file + ": the DICOM decoder sent " + std::to_string(bytes) +
                " bytes of pixels for " + std::to_string(expected));
  at::Tensor words = at::empty({bytes}, at::kByte);
  if (!child.read_exact(reinterpret_cast<char*>(words.data_ptr<uint8_t>()),
                        static_cast<size_t>(bytes)))
    return at::Tensor();
  return words;
}

}  // namespace

std::string dicom_decoder_path() {
  if (const char* env = std::getenv("MBMD_DICOM_DECODER"); env && *env) return env;
  std::string looked;
  for (const fs::path& place : decoder_candidates()) {
    if (::access(place.c_str(), X_OK) == 0) return place.string();
    looked += (looked.empty() ? "" : ", ") + place.string();
  }
  throw Error(std::string("cannot read DICOM: the decoder program ") + kDecoderName +
              " was not found (looked in " + looked +
              "); build it with the program, or set MBMD_DICOM_DECODER to its path");
}

DecoderAnswer run_dicom_decoder(const std::string& path, bool header_only, int frame,
                                int window_index) {
  ChildProcess child(decoder_arguments(path, header_only, frame, window_index));
  DecoderAnswer answer;
  std::string line;
  bool complete = false;
  if (child.read_line(line, kMaxAnswerLine)) {
    try {
      const nlohmann::json head = nlohmann::json::parse(line);
      head.at("header").get_to(answer.header);
      answer.header.file = path;  // as given, even where it is not UTF-8
      answer.bits_stored = head.at("bits_stored").get<int>();
      answer.high_bit = head.at("high_bit").get<int>();
      answer.words = header_only ? at::Tensor() : read_words(child, head, answer.header, frame);
    } catch (const nlohmann::json::exception& e) {
      throw Error(path + ": the DICOM decoder's answer cannot be read: " + e.what());
    }
    complete = header_only || answer.words.defined();
  }
  const ChildExit end = child.wait();
  if (!complete || !end.ok()) throw_decoder_failure(path, end);
  return answer;
}

}  // namespace mbmd::data
