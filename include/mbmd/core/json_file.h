// Reading JSON files with errors that name the file.
#pragma once

#include <string>

#include "mbmd/core/config.h"

namespace mbmd {

// Parses the JSON file at `path` (comments allowed); `what` names the kind of file in errors
// ("config file", "COCO file"): "<what> <path>: cannot be opened" or "...: not valid JSON: ...".
Json read_json_file(const std::string& path, const std::string& what = "file");

// `j` as JSON text (indented by `indent`), bytes that are not UTF-8 replaced by U+FFFD.
std::string json_text(const Json& j, int indent = -1);

// Writes json_text(j, indent) atomically, with a final newline.
void write_json_file(const std::string& path, const Json& j, int indent = 2);

}  // namespace mbmd
