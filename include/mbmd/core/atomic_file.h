// Files written whole or not at all: every output of the product goes to a temporary file beside
// its destination and is renamed over it once complete, so a crash or a full disk never leaves a
// half-written result under the real name.
#pragma once

#include <string>

namespace mbmd {

// A temporary name beside `path`, unique per process and per call, so concurrent writers (ranks,
// threads) never share one.
std::string temporary_path_for(const std::string& path);

// Renames the finished temporary file `tmp` onto `path`; on failure removes `tmp` and throws
// mbmd::Error naming `path`.
void replace_file(const std::string& tmp, const std::string& path);

// Writes `bytes` to `path` through a temporary file; mbmd::Error naming `path` when it cannot.
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace mbmd
