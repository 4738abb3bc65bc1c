// The decoder's own memory cap: GDCM believes the lengths a file states, so a kilobyte of damaged
// DICOM can make it allocate gigabytes before it finds out that the bytes are not there. The cap
// (an address-space limit on this process) turns that into a failed allocation, which ends the
// decoder and becomes an error for that file. It grows once the header is read and checked, to
// what the frames asked for need.
#pragma once

#include <cstdint>

namespace mbmd::dicom_decoder {

// Room for parsing a file of `file_bytes`: its contents a few times over, and the program.
void cap_memory_for_file(uint64_t file_bytes);

// Room for also holding `pixel_bytes` of decoded pixels (the limits were checked before).
void cap_memory_for_pixels(uint64_t pixel_bytes);

}  // namespace mbmd::dicom_decoder
