// Which file a result came from: a checkpoint named by its content, so that a report says which
// weights made it even after the file was renamed or copied.
#pragma once

#include <string>

namespace mbmd {

// "fnv1a64:<16 hex digits>" of the file's bytes (FNV-1a, 64 bits: an identity, not a security
// checksum); mbmd::Error naming the file when it cannot be read.
std::string file_fingerprint(const std::string& path);

}  // namespace mbmd
