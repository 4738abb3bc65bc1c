#include "mbmd/core/json_file.h"

#include <fstream>

#include "mbmd/core/atomic_file.h"
#include "mbmd/core/error.h"

namespace mbmd {

Json read_json_file(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) throw Error(what + " " + path + ": cannot be opened");
  try {
    return Json::parse(in, nullptr, true, /*ignore_comments=*/true);
  } catch (const Json::exception& e) {
    // Not only parse_error: a number beyond double's range ("1e400") is out_of_range.
    throw Error(what + " " + path + ": not valid JSON: " + e.what());
  }
}

std::string json_text(const Json& j, int indent) {
  // Text from the outside (a file name in Latin-1, a DICOM string) may not be UTF-8; JSON must
  // be, and nlohmann's strict dump would throw: replace such bytes with U+FFFD instead.
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

void write_json_file(const std::string& path, const Json& j, int indent) {
  write_file_atomic(path, json_text(j, indent) + "\n");
}

}  // namespace mbmd
