// Reading a zip archive's central directory (PKWARE APPNOTE 4.3.12-4.3.16, with the zip64
// records of 4.3.14-4.3.15 and the zip64 extra field of 4.5.3) the way miniz, inside LibTorch,
// reads it, so that claimed sizes can be checked before LibTorch allocates them.
#include "zip_directory.h"

#include <algorithm>
#include <fstream>

#include "mbmd/core/error.h"

namespace mbmd::io::detail {

namespace {

const uint64_t kMaxDeflateRatio = 1032;  // deflate's largest expansion: 258 bytes per 2 bits

// The little-endian unsigned integer of `n` bytes at bytes[at] (the caller checks the bounds).
uint64_t le(const std::string& bytes, size_t at, size_t n) {
  uint64_t v = 0;
  for (size_t k = 0; k < n; ++k)
    v |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[at + k])) << (8 * k);
  return v;
}

[[noreturn]] void corrupt(const std::string& where, const std::string& what) {
  throw Error(where + ": truncated or corrupt zip archive (" + what + ")");
}

// `n` bytes at `offset` of the file (n is at most the file's size: checked by the callers).
std::string read_at(std::ifstream& in, uint64_t offset, uint64_t n, const std::string& where) {
  std::string bytes(static_cast<size_t>(n), '\0');
  in.clear();
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(bytes.data(), static_cast<std::streamsize>(n));
  if (!in)
    corrupt(where, "cannot read " + std::to_string(n) + " bytes at byte " + std::to_string(offset));
  return bytes;
}

struct Directory {
  uint64_t entries = 0;
  uint64_t size = 0;
  uint64_t offset = 0;
};

// Where the end-of-central-directory record (PK\5\6, 22 bytes and a comment, in the file's last
// 22 + 65535 bytes) is: the last one whose comment ends the file, else the last complete one.
uint64_t find_end_record(std::ifstream& in, uint64_t file_size, const std::string& where) {
  const uint64_t tail = std::min<uint64_t>(file_size, 22 + 65535);
  const std::string bytes = read_at(in, file_size - tail, tail, where);
  const std::string signature("PK\x05\x06", 4);
  size_t fallback = std::string::npos;
  for (size_t p = bytes.rfind(signature); p != std::string::npos;
       p = p == 0 ? std::string::npos : bytes.rfind(signature, p - 1)) {
    if (p + 22 > bytes.size()) continue;
    if (p + 22 + le(bytes, p + 20, 2) == bytes.size()) return file_size - tail + p;
    if (fallback == std::string::npos) fallback = p;
  }
  if (fallback == std::string::npos) corrupt(where, "no end of central directory");
  return file_size - tail + fallback;
}

// The directory's entry count, size and offset, from the zip64 end record when a locator
// (PK\6\7, just before the end record) points at one, as miniz does.
Directory find_directory(std::ifstream& in, uint64_t file_size, const std::string& where) {
  const uint64_t end = find_end_record(in, file_size, where);
  const std::string record = read_at(in, end, 22, where);
  Directory dir{le(record, 10, 2), le(record, 12, 4), le(record, 16, 4)};
  if (end < 20) return dir;
  const std::string locator = read_at(in, end - 20, 20, where);
  if (locator.compare(0, 4, "PK\x06\x07", 4) != 0) return dir;
  const uint64_t at = le(locator, 8, 8);
  if (file_size < 56 || at > file_size - 56) corrupt(where, "zip64 end record outside the file");
  const std::string zip64 = read_at(in, at, 56, where);
  if (zip64.compare(0, 4, "PK\x06\x06", 4) != 0) corrupt(where, "no zip64 end record");
  return {le(zip64, 32, 8), le(zip64, 40, 8), le(zip64, 48, 8)};
}

// The zip64 extra field (id 1) holds, in order, the sizes whose 32-bit fields are 0xffffffff.
void read_zip64_sizes(const std::string& cd, size_t at, size_t end, ZipEntry& e,
                      const std::string& where) {
  const uint64_t escape = 0xffffffffu;
  while (at + 4 <= end) {
    const uint64_t id = le(cd, at, 2);
    const uint64_t length = le(cd, at + 2, 2);
    if (at + 4 + length > end) corrupt(where, "extra field of " + e.name + " overruns");
    if (id == 1) {
      size_t q = at + 4;
      for (uint64_t* field : {&e.size, &e.compressed}) {
        if (*field != escape) continue;
        if (q + 8 > at + 4 + length) corrupt(where, "zip64 field of " + e.name + " too short");
        *field = le(cd, q, 8);
        q += 8;
      }
      return;
    }
    at += 4 + length;
  }
}

}  // namespace

std::vector<ZipEntry> read_zip_directory(const std::string& path, const std::string& where) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(where + ": cannot be opened");
  const auto file_size = static_cast<uint64_t>(in.tellg());
  const Directory dir = find_directory(in, file_size, where);
  if (dir.size > file_size || dir.offset > file_size - dir.size) {
    corrupt(where, "central directory outside the file");
  }
  const std::string cd = read_at(in, dir.offset, dir.size, where);
  std::vector<ZipEntry> entries;
  entries.reserve(static_cast<size_t>(std::min<uint64_t>(dir.entries, cd.size() / 46)));
  size_t at = 0;
  for (uint64_t k = 0; k < dir.entries; ++k) {
    if (cd.size() - at < 46 || cd.compare(at, 4, "PK\x01\x02", 4) != 0) {
      corrupt(where, "central directory entry " + std::to_string(k) + " is damaged");
    }
    const size_t name_length = le(cd, at + 28, 2);
    const size_t extra_length = le(cd, at + 30, 2);
    const size_t total = 46 + name_length + extra_length + le(cd, at + 32, 2);
    if (cd.size() - at < total)
      corrupt(where, "central directory entry " + std::to_string(k) + " overruns the directory");
    ZipEntry e;
    e.name = cd.substr(at + 46, name_length);
    e.method = static_cast<uint16_t>(le(cd, at + 10, 2));
    e.compressed = le(cd, at + 20, 4);
    e.size = le(cd, at + 24, 4);
    read_zip64_sizes(cd, at + 46 + name_length, at + 46 + name_length + extra_length, e, where);
    entries.push_back(std::move(e));
    at += total;
  }
  return entries;
}

void check_zip_sizes(const std::vector<ZipEntry>& entries, uint64_t file_size,
                     const std::string& where) {
  for (const ZipEntry& e : entries) {
    const std::string record = "record " + e.name + " claims ";
    if (e.compressed > file_size) {
      corrupt(where, record + std::to_string(e.compressed) + " bytes in a file of " +
                         std::to_string(file_size));
    }
    if (e.method == 8 ? e.size / kMaxDeflateRatio > e.compressed : e.size > file_size) {
      corrupt(where, record + std::to_string(e.size) + " bytes, more than " +
                         (e.method == 8 ? std::to_string(kMaxDeflateRatio) + " times its " +
                                              std::to_string(e.compressed) + " compressed bytes"
                                        : "the file's " + std::to_string(file_size)));
    }
  }
}

}  // namespace mbmd::io::detail
