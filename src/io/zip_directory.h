// The central directory of a zip archive, read directly: LibTorch's PyTorchStreamReader allocates
// the size a record claims before it extracts it (its constructor already reads the version
// record), so checkpoint_load.cpp checks every record's claimed size against the file with this
// before the reader opens the archive. Private to src/io.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mbmd::io::detail {

struct ZipEntry {
  std::string name;         // full name in the archive ("archive/data/0")
  uint16_t method = 0;      // 0 stored, 8 deflated
  uint64_t compressed = 0;  // bytes the record takes in the file
  uint64_t size = 0;        // bytes once extracted: what the reader allocates
};

// The entries of the zip file at `path`, in directory order (zip64 sizes included). Throws
// mbmd::Error naming `where` when the end-of-central-directory record is missing (a truncated
// file) or the directory is malformed.
std::vector<ZipEntry> read_zip_directory(const std::string& path, const std::string& where);

// Throws mbmd::Error naming `where` and the record unless every entry's claimed size is possible
// in a file of `file_size` bytes: a stored record holds at most the file, a deflated one at most
// 1032 times its compressed bytes (deflate's largest ratio).
void check_zip_sizes(const std::vector<ZipEntry>& entries, uint64_t file_size,
                     const std::string& where);

}  // namespace mbmd::io::detail
