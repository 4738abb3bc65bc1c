// Inputs that stand for several files (the three BCS-DBT tables, a COCO ground truth and its
// results) hold them one after another, separated by a form feed: one byte the fuzzer finds
// easily, and one that real CSV and JSON files do not hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mbmd::fuzz {

// The input's parts between form feeds; always at least `count` parts (missing ones empty), and
// whatever follows the (count - 1)th separator stays in the last part.
inline std::vector<std::string> split_input(const uint8_t* data, size_t size, size_t count) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  size_t start = 0;
  while (parts.size() + 1 < count) {
    const size_t end = text.find('\f', start);
    if (end == std::string::npos) break;
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  parts.push_back(text.substr(start));
  parts.resize(count);
  return parts;
}

}  // namespace mbmd::fuzz
