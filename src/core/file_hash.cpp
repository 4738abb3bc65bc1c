#include "mbmd/core/file_hash.h"

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <vector>

#include "mbmd/core/error.h"

namespace mbmd {

std::string file_fingerprint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot be read");
  uint64_t hash = 14695981039346656037ull;  // FNV-1a offset basis and prime
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      hash ^= static_cast<unsigned char>(buffer[static_cast<size_t>(i)]);
      hash *= 1099511628211ull;
    }
  }
  if (in.bad()) throw Error(path + ": read error");
  char text[32];
  std::snprintf(text, sizeof text, "fnv1a64:%016llx", static_cast<unsigned long long>(hash));
  return text;
}

}  // namespace mbmd
