#include "mbmd/core/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "mbmd/core/error.h"

namespace mbmd {

std::string temporary_path_for(const std::string& path) {
  static std::atomic<int> counter{0};
  return path + ".tmp" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

void replace_file(const std::string& tmp, const std::string& path) {
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot rename " + tmp + " to it");
  }
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = temporary_path_for(path);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error(path + ": cannot write the file (cannot create " + tmp + ")");
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed) {
    std::remove(tmp.c_str());
    throw Error(path + ": writing failed (disk full?)");
  }
  replace_file(tmp, path);
}

}  // namespace mbmd
