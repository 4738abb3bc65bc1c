#include "gdcm_pixels.h"

#include <gdcmBoxRegion.h>
#include <gdcmImageReader.h>
#include <gdcmImageRegionReader.h>

#include "gdcm_header.h"
#include "mbmd/core/error.h"
#include "mbmd/data/image_limits.h"
#include "memory_cap.h"

namespace mbmd::dicom_decoder {
namespace {

size_t word_bytes(const data::DicomHeader& h) { return static_cast<size_t>(h.bits_allocated / 8); }

void keep_pixel_format(StoredPixels& out, const gdcm::PixelFormat& pf) {
  out.bits_stored = pf.GetBitsStored();
  out.high_bit = pf.GetHighBit();
}

// Every frame, decoded by GDCM in one go.
StoredPixels read_all_frames(const std::string& path, int window_index) {
  gdcm::ImageReader reader;
  reader.SetFileName(path.c_str());
  if (!reader.Read()) throw_read_failure(path);
  const gdcm::Image& image = reader.GetImage();
  StoredPixels out;
  out.header.file = path;
  fill_info(out.header, reader.GetFile(), image, 0);
  select_window(out.header, reader.GetFile(), window_index, 0);
  const data::DicomHeader& h = out.header;
  data::check_image_size(path, h.cols, h.rows, h.frames);
  const size_t bytes = static_cast<size_t>(h.rows) * h.cols * h.frames * word_bytes(h);
  cap_memory_for_pixels(bytes);
  out.words.resize(image.GetBufferLength());
  if (out.words.size() < bytes || !image.GetBuffer(out.words.data()))
    throw_decode_failure(path, h.transfer_syntax);
  out.words.resize(bytes);
  keep_pixel_format(out, image.GetPixelFormat());
  return out;
}

// GDCM cannot cut this frame out of the encoded stream: decode everything, keep one frame.
void read_frame_from_all(StoredPixels& out, int frame) {
  const std::string& path = out.header.file;
  gdcm::ImageReader full;
  full.SetFileName(path.c_str());
  if (!full.Read()) throw_read_failure(path);
  const gdcm::Image& image = full.GetImage();
  const data::DicomHeader& h = out.header;
  const size_t frame_bytes = static_cast<size_t>(h.rows) * h.cols * word_bytes(h);
  std::vector<char> all(image.GetBufferLength());
  if (all.size() < frame_bytes * h.frames || !image.GetBuffer(all.data()))
    throw_decode_failure(path, h.transfer_syntax);
  const auto first = all.begin() + static_cast<std::ptrdiff_t>(frame_bytes * frame);
  out.words.assign(first, first + static_cast<std::ptrdiff_t>(frame_bytes));
  keep_pixel_format(out, image.GetPixelFormat());
}

StoredPixels read_one_frame(const std::string& path, int frame, int window_index) {
  gdcm::ImageRegionReader reader;
  reader.SetFileName(path.c_str());
  if (!reader.ReadInformation()) throw_read_failure(path);
  StoredPixels out;
  out.header.file = path;
  fill_info(out.header, reader.GetFile(), reader.GetImage(), frame);
  const data::DicomHeader& h = out.header;
  if (frame >= h.frames)
    throw Error(path + ": frame " + std::to_string(frame) + " out of range (the file has " +
                std::to_string(h.frames) + " frame" + (h.frames == 1 ? "" : "s") + ")");
  select_window(out.header, reader.GetFile(), window_index, frame);
  data::check_image_size(path, h.cols, h.rows, h.frames);
  const size_t frame_bytes = static_cast<size_t>(h.rows) * h.cols * word_bytes(h);
  cap_memory_for_pixels(frame_bytes * h.frames);  // GDCM may have to decode them all
  gdcm::BoxRegion box;
  box.SetDomain(0, h.cols - 1, 0, h.rows - 1, frame, frame);
  reader.SetRegion(box);
  out.words.resize(reader.ComputeBufferLength());
  if (out.words.size() >= frame_bytes &&
      reader.ReadIntoBuffer(out.words.data(), out.words.size())) {
    out.words.resize(frame_bytes);
    keep_pixel_format(out, reader.GetImage().GetPixelFormat());
  } else {
    read_frame_from_all(out, frame);
  }
  return out;
}

}  // namespace

data::DicomHeader read_header(const std::string& path) {
  quiet_gdcm();
  gdcm::ImageRegionReader reader;
  reader.SetFileName(path.c_str());
  if (!reader.ReadInformation()) throw_read_failure(path);
  data::DicomHeader info;
  info.file = path;
  fill_info(info, reader.GetFile(), reader.GetImage(), 0);
  return info;
}

StoredPixels read_pixels(const std::string& path, int frame, int window_index) {
  quiet_gdcm();
  return frame < 0 ? read_all_frames(path, window_index)
                   : read_one_frame(path, frame, window_index);
}

}  // namespace mbmd::dicom_decoder
