#include "memory_cap.h"

#include <sys/resource.h>

#include <algorithm>

// AddressSanitizer reserves terabytes of address space for its shadow memory, so sanitizer
// builds (scripts/sanitize.sh, the fuzz targets) run without the cap.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MBMD_DECODER_UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MBMD_DECODER_UNDER_ASAN 1
#endif

namespace mbmd::dicom_decoder {
namespace {

constexpr uint64_t kProgramBytes = 512ull << 20;  // libraries, stacks and GDCM's dictionaries
uint64_t g_file_bytes = 0;

void cap_address_space(uint64_t bytes) {
#ifndef MBMD_DECODER_UNDER_ASAN
  rlimit limit{};
  if (getrlimit(RLIMIT_AS, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max == RLIM_INFINITY
                       ? static_cast<rlim_t>(bytes)
                       : std::min(static_cast<rlim_t>(bytes), limit.rlim_max);
  setrlimit(RLIMIT_AS, &limit);
#else
  (void)bytes;
#endif
}

}  // namespace

void cap_memory_for_file(uint64_t file_bytes) {
  g_file_bytes = file_bytes;
  cap_address_space(kProgramBytes + 4 * file_bytes);
}

void cap_memory_for_pixels(uint64_t pixel_bytes) {
  // GDCM's buffer, our copy of the words and a decompressor's working copy.
  cap_address_space(kProgramBytes + 4 * g_file_bytes + 3 * pixel_bytes);
}

}  // namespace mbmd::dicom_decoder
