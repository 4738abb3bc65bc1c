// The header half of the decoder program's GDCM reading (gdcm_header.cpp).
#pragma once

#include <gdcmFile.h>
#include <gdcmImage.h>

#include <string>

#include "mbmd/data/dicom_header.h"

namespace mbmd::dicom_decoder {

// GDCM prints its own warnings and errors to stderr; ours name the file and the problem instead.
void quiet_gdcm();

// Works out why GDCM could not read a file, and throws an mbmd::Error saying so.
[[noreturn]] void throw_read_failure(const std::string& path);
[[noreturn]] void throw_decode_failure(const std::string& path, const std::string& uid);

// Header fields from GDCM's image description and the data set; `frame` picks the functional
// groups of a multi-frame object. Throws for images that are not 8- or 16-bit greyscale.
void fill_info(data::DicomHeader& out, const gdcm::File& file, const gdcm::Image& image, int frame);

// The window actually used: the file's first, or the one at window_index when it has several.
void select_window(data::DicomHeader& info, const gdcm::File& file, int window_index, int frame);

}  // namespace mbmd::dicom_decoder
