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
  } catch (const Json::parse_error& e) {
    throw Error(what + " " + path + ": not valid JSON: " + e.what());
  }
}

void write_json_file(const std::string& path, const Json& j, int indent) {
  write_file_atomic(path, j.dump(indent) + "\n");
}

}  // namespace mbmd
