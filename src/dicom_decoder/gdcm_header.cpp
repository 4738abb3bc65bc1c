// The header half of DICOM decoding with GDCM: size, pixel format, anatomy, modality LUT, window
// and VOI LUT, read from the data set and the enhanced objects' functional groups.
#include "gdcm_header.h"

#include <gdcmAttribute.h>
#include <gdcmReader.h>
#include <gdcmSequenceOfItems.h>
#include <gdcmTrace.h>
#include <gdcmTransferSyntax.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>

#include "mbmd/core/error.h"
#include "mbmd/core/strings.h"

namespace mbmd::dicom_decoder {
namespace {

namespace fs = std::filesystem;
using gdcm::Tag;

const Tag kPixelData(0x7fe0, 0x0010);
const Tag kFloatPixelData(0x7fe0, 0x0008);
const Tag kDoublePixelData(0x7fe0, 0x0009);
const Tag kSharedGroups(0x5200, 0x9229);
const Tag kPerFrameGroups(0x5200, 0x9230);

// A DICOM value without its padding: DICOM pads values to an even length with a space, or a NUL
// for UIDs, and some writers leave NULs at the end of other values too.
std::string trim_padding(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && (std::isspace(static_cast<unsigned char>(s[b])) || s[b] == '\0')) ++b;
  while (e > b && (std::isspace(static_cast<unsigned char>(s[e - 1])) || s[e - 1] == '\0')) --e;
  return s.substr(b, e - b);
}

std::optional<std::string> string_value(const gdcm::DataSet& ds, const Tag& tag) {
  if (!ds.FindDataElement(tag)) return std::nullopt;
  const gdcm::ByteValue* bv = ds.GetDataElement(tag).GetByteValue();
  if (!bv || bv->GetLength() == 0) return std::nullopt;
  return trim_padding(std::string(bv->GetPointer(), bv->GetLength()));
}

// The index-th value of a multi-valued decimal string ("40\80"); the first when there are fewer.
std::optional<double> decimal_value(const gdcm::DataSet& ds, const Tag& tag, int index = 0) {
  auto text = string_value(ds, tag);
  if (!text) return std::nullopt;
  const std::vector<std::string> parts = split(*text, '\\');
  const std::string part =
      trim_padding(parts[index >= 0 && index < static_cast<int>(parts.size()) ? index : 0]);
  if (part.empty()) return std::nullopt;
  char* end = nullptr;
  double value = std::strtod(part.c_str(), &end);
  if (end == part.c_str() || *end != '\0' || !std::isfinite(value)) return std::nullopt;
  return value;
}

// A copy of one item of a sequence (copies keep the nested data set alive independently of how
// GDCM materialised the sequence).
std::optional<gdcm::DataSet> sequence_item(const gdcm::DataSet& ds, const Tag& tag, size_t index) {
  if (!ds.FindDataElement(tag)) return std::nullopt;
  gdcm::SmartPointer<gdcm::SequenceOfItems> sq = ds.GetDataElement(tag).GetValueAsSQ();
  if (!sq || sq->GetNumberOfItems() <= index) return std::nullopt;
  return sq->GetItem(index + 1).GetNestedDataSet();
}

// A functional group macro of an enhanced multi-frame object: the frame's own group first, then
// the shared one (a macro sits in exactly one of them, PS3.3 C.7.6.16).
std::optional<gdcm::DataSet> functional_group(const gdcm::DataSet& ds, const Tag& macro,
                                              int frame) {
  if (auto per_frame = sequence_item(ds, kPerFrameGroups, static_cast<size_t>(frame)))
    if (auto m = sequence_item(*per_frame, macro, 0)) return m;
  if (auto shared = sequence_item(ds, kSharedGroups, 0))
    if (auto m = sequence_item(*shared, macro, 0)) return m;
  return std::nullopt;
}

std::string view_from_code_meaning(const std::string& meaning) {
  const std::string m = upper(meaning);
  if (m == "CRANIO-CAUDAL") return "CC";
  if (m == "MEDIO-LATERAL OBLIQUE") return "MLO";
  if (m == "MEDIO-LATERAL") return "ML";
  if (m == "LATERO-MEDIAL") return "LM";
  if (m == "LATERO-MEDIAL OBLIQUE") return "LMO";
  if (m == "CRANIO-CAUDAL EXAGGERATED LATERALLY") return "XCCL";
  if (m == "CRANIO-CAUDAL EXAGGERATED MEDIALLY") return "XCCM";
  return "";
}

// Reads the File Meta Information's transfer syntax UID straight from the bytes, so that it can be
// named even when GDCM refuses to parse a file whose syntax it does not know.
std::optional<std::string> meta_transfer_syntax(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[132];
  if (!in.read(head, sizeof head) || std::memcmp(head + 128, "DICM", 4) != 0) return std::nullopt;
  for (int guard = 0; guard < 64; ++guard) {
    unsigned char tag[8];
    if (!in.read(reinterpret_cast<char*>(tag), 8)) return std::nullopt;
    const unsigned group = tag[0] | (tag[1] << 8), element = tag[2] | (tag[3] << 8);
    if (group != 0x0002) return std::nullopt;
    const std::string vr(reinterpret_cast<char*>(tag + 4), 2);
    uint32_t length = 0;
    if (vr == "OB" || vr == "OW" || vr == "SQ" || vr == "UN" || vr == "UT" || vr == "OF") {
      unsigned char l[4];
      if (!in.read(reinterpret_cast<char*>(l), 4)) return std::nullopt;
      length = l[0] | (l[1] << 8) | (l[2] << 16) | (static_cast<uint32_t>(l[3]) << 24);
    } else {
      length = tag[6] | (tag[7] << 8);
    }
    if (length > (1u << 20)) return std::nullopt;
    std::string value(length, '\0');
    if (!in.read(value.data(), length)) return std::nullopt;
    if (element == 0x0010) return trim_padding(value);
  }
  return std::nullopt;
}

bool has_pixel_data(const gdcm::DataSet& ds) {
  return ds.FindDataElement(kPixelData) || ds.FindDataElement(kFloatPixelData) ||
         ds.FindDataElement(kDoublePixelData);
}

std::string syntax_name(const std::string& uid) {
  const auto type = gdcm::TransferSyntax::GetTSType(uid.c_str());
  if (type == gdcm::TransferSyntax::TS_END) return "'" + uid + "'";
  return "'" + uid + "' (" + gdcm::TransferSyntax::GetTSString(type) + ")";
}

// Size, pixel format and identity from GDCM's image description and the file's header.
void read_image_description(data::DicomHeader& out, const gdcm::File& file,
                            const gdcm::Image& image) {
  const gdcm::DataSet& ds = file.GetDataSet();
  const gdcm::PixelFormat& pf = image.GetPixelFormat();
  out.cols = static_cast<int>(image.GetDimension(0));
  out.rows = static_cast<int>(image.GetDimension(1));
  out.frames = image.GetNumberOfDimensions() > 2 ? static_cast<int>(image.GetDimension(2)) : 1;
  out.bits_allocated = pf.GetBitsAllocated();
  out.bits_stored = pf.GetBitsStored();
  out.high_bit = pf.GetHighBit();
  out.is_signed = pf.GetPixelRepresentation() == 1;
  const char* pi =
      gdcm::PhotometricInterpretation::GetPIString(image.GetPhotometricInterpretation().GetType());
  out.photometric = pi ? trim_padding(pi) : "";
  if (auto ts = string_value(file.GetHeader(), Tag(0x0002, 0x0010))) out.transfer_syntax = *ts;
  if (auto sop = string_value(file.GetHeader(), Tag(0x0002, 0x0002))) out.sop_class = *sop;
  if (auto sop = string_value(ds, Tag(0x0008, 0x0016))) out.sop_class = *sop;
}

// Only grey images with 8 or 16 bits allocated are decoded.
void check_pixel_layout(const data::DicomHeader& out, const gdcm::PixelFormat& pf) {
  if (pf.GetSamplesPerPixel() != 1)
    throw Error(out.file + ": " + std::to_string(pf.GetSamplesPerPixel()) +
                " samples per pixel (colour); only greyscale images are supported");
  if (out.photometric != "MONOCHROME1" && out.photometric != "MONOCHROME2")
    throw Error(out.file + ": photometric interpretation '" + out.photometric +
                "' is not greyscale (MONOCHROME1 or MONOCHROME2)");
  if ((out.bits_allocated != 8 && out.bits_allocated != 16) || out.bits_stored < 1 ||
      out.bits_stored > out.bits_allocated || out.high_bit >= out.bits_allocated ||
      out.high_bit + 1 < out.bits_stored)
    throw Error(out.file + ": unsupported pixel layout (bits allocated " +
                std::to_string(out.bits_allocated) + ", stored " + std::to_string(out.bits_stored) +
                ", high bit " + std::to_string(out.high_bit) +
                "); 8 or 16 bits allocated expected");
}

// The header's bits stored: GDCM may widen its pixel format to what a JPEG 2000 stream declares
// (the decoding follows GDCM, the description follows the file).
void read_header_bits(data::DicomHeader& out, const gdcm::DataSet& ds) {
  if (!ds.FindDataElement(Tag(0x0028, 0x0101)) || !ds.FindDataElement(Tag(0x0028, 0x0102))) return;
  gdcm::Attribute<0x0028, 0x0101> stored;
  gdcm::Attribute<0x0028, 0x0102> high;
  stored.SetFromDataSet(ds);
  high.SetFromDataSet(ds);
  if (stored.GetValue() >= 1 && stored.GetValue() <= out.bits_stored &&
      high.GetValue() + 1 >= stored.GetValue() && high.GetValue() < out.bits_allocated) {
    out.bits_stored = stored.GetValue();
    out.high_bit = high.GetValue();
  }
}

// Laterality, view and patient.
void read_anatomy(data::DicomHeader& out, const gdcm::DataSet& ds, int frame) {
  out.laterality.clear();
  if (auto lat = string_value(ds, Tag(0x0020, 0x0062))) out.laterality = *lat;
  if (out.laterality.empty())
    if (auto lat = string_value(ds, Tag(0x0020, 0x0060))) out.laterality = *lat;
  if (out.laterality.empty())
    if (auto anatomy = functional_group(ds, Tag(0x0020, 0x9071), frame))
      if (auto lat = string_value(*anatomy, Tag(0x0020, 0x9072))) out.laterality = *lat;
  out.laterality = upper(out.laterality);
  if (out.laterality != "L" && out.laterality != "R") out.laterality.clear();

  out.view.clear();
  if (auto view = string_value(ds, Tag(0x0018, 0x5101))) out.view = upper(*view);
  if (out.view.empty())
    if (auto code = sequence_item(ds, Tag(0x0054, 0x0220), 0))
      if (auto meaning = string_value(*code, Tag(0x0008, 0x0104)))
        out.view = view_from_code_meaning(*meaning);
  if (auto id = string_value(ds, Tag(0x0010, 0x0020))) out.patient_id = *id;
}

// Modality LUT: top level, or the Pixel Value Transformation macro (0028,9145).
void read_modality_lut(data::DicomHeader& out, const gdcm::DataSet& ds, int frame) {
  out.rescale_slope = 1.0;
  out.rescale_intercept = 0.0;
  auto slope = decimal_value(ds, Tag(0x0028, 0x1053));
  auto intercept = decimal_value(ds, Tag(0x0028, 0x1052));
  if (!slope && !intercept)
    if (auto pvt = functional_group(ds, Tag(0x0028, 0x9145), frame)) {
      slope = decimal_value(*pvt, Tag(0x0028, 0x1053));
      intercept = decimal_value(*pvt, Tag(0x0028, 0x1052));
    }
  if (slope) out.rescale_slope = *slope;
  if (intercept) out.rescale_intercept = *intercept;
  if (out.rescale_slope == 0.0) throw Error(out.file + ": rescale slope (0028,1053) is 0");
}

// Where the window is: the top level, or else the Frame VOI LUT macro (0028,9132) of the
// functional groups (enhanced objects such as breast tomosynthesis), kept in `macro`.
const gdcm::DataSet& window_data_set(const gdcm::DataSet& ds, int frame,
                                     std::optional<gdcm::DataSet>& macro) {
  if (ds.FindDataElement(Tag(0x0028, 0x1050))) return ds;
  macro = functional_group(ds, Tag(0x0028, 0x9132), frame);
  return macro ? *macro : ds;
}

// The first window, and its VOI LUT function.
void read_window(data::DicomHeader& out, const gdcm::DataSet& ds, int frame) {
  out.has_window = false;
  out.voi_function.clear();
  std::optional<gdcm::DataSet> macro;
  const gdcm::DataSet& voi = window_data_set(ds, frame, macro);
  auto center = decimal_value(voi, Tag(0x0028, 0x1050));
  auto width = decimal_value(voi, Tag(0x0028, 0x1051));
  if (center && width) {
    out.has_window = true;
    out.window_center = *center;
    out.window_width = *width;
    if (auto fn = string_value(voi, Tag(0x0028, 0x1056))) out.voi_function = upper(*fn);
  }
}

const gdcm::ByteValue* byte_value(const gdcm::DataSet& ds, const Tag& tag) {
  return ds.FindDataElement(tag) ? ds.GetDataElement(tag).GetByteValue() : nullptr;
}

// The first item of the VOI LUT Sequence (0028,3010), when there is one.
void read_voi_lut(data::DicomHeader& out, const gdcm::DataSet& ds) {
  out.voi_lut = data::VoiLut{};
  const auto item = sequence_item(ds, Tag(0x0028, 0x3010), 0);
  if (!item) return;
  const gdcm::ByteValue* desc = byte_value(*item, Tag(0x0028, 0x3002));
  const gdcm::ByteValue* data = byte_value(*item, Tag(0x0028, 0x3006));
  if (!desc || desc->GetLength() < 6 || !data)
    throw Error(out.file +
                ": VOI LUT sequence (0028,3010) lacks a valid LUT Descriptor "
                "(0028,3002) or LUT Data (0028,3006)");
  uint16_t d[3];
  std::memcpy(d, desc->GetPointer(), 6);
  const size_t entries = d[0] == 0 ? 65536 : d[0];
  out.voi_lut.first_mapped = out.is_signed ? static_cast<int16_t>(d[1]) : d[1];
  out.voi_lut.bits = d[2];
  if (out.voi_lut.bits < 1 || out.voi_lut.bits > 16)
    throw Error(out.file + ": VOI LUT descriptor gives " + std::to_string(d[2]) +
                " bits per entry (1..16 expected)");
  out.voi_lut.table.resize(entries);
  const char* p = data->GetPointer();
  if (data->GetLength() >= entries * 2) {
    for (size_t i = 0; i < entries; ++i) {
      uint16_t v;
      std::memcpy(&v, p + 2 * i, 2);
      out.voi_lut.table[i] = v;
    }
  } else if (data->GetLength() >= entries) {
    for (size_t i = 0; i < entries; ++i) out.voi_lut.table[i] = static_cast<uint8_t>(p[i]);
  } else {
    throw Error(out.file + ": VOI LUT data holds " + std::to_string(data->GetLength()) +
                " bytes for " + std::to_string(entries) + " entries");
  }
}

}  // namespace

// GDCM prints its own warnings and errors to stderr; ours name the file and the problem instead.
void quiet_gdcm() {
  static std::once_flag once;
  std::call_once(once, [] {
    gdcm::Trace::SetWarning(false);
    gdcm::Trace::SetError(false);
  });
}

// Works out why GDCM could not read a file, and says so naming the file.
[[noreturn]] void throw_read_failure(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error("DICOM file not found: " + path);
  if (fs::is_directory(path, ec)) throw Error(path + ": is a directory, not a DICOM file");
  const auto uid = meta_transfer_syntax(path);
  if (uid && gdcm::TransferSyntax::GetTSType(uid->c_str()) == gdcm::TransferSyntax::TS_END)
    throw Error(path + ": unsupported transfer syntax '" + *uid +
                "' (not one GDCM knows; supported: uncompressed, RLE, JPEG, JPEG lossless, "
                "JPEG-LS, JPEG 2000)");
  gdcm::Reader reader;
  reader.SetFileName(path.c_str());
  if (!reader.Read()) throw Error(path + ": not a DICOM file (GDCM cannot parse it)");
  if (!has_pixel_data(reader.GetFile().GetDataSet()))
    throw Error(path + ": DICOM file has no pixel data (7FE0,0010)");
  throw Error(path + ": GDCM cannot read the image" +
              (uid ? " (transfer syntax " + syntax_name(*uid) + ")" : std::string()));
}

[[noreturn]] void throw_decode_failure(const std::string& path, const std::string& uid) {
  throw Error(path + ": cannot decode the pixel data: unsupported transfer syntax " +
              syntax_name(uid) + " (GDCM has no working codec for it)");
}

// Header fields from GDCM's image description and the data set; `frame` picks the functional
// groups of a multi-frame object.
void fill_info(data::DicomHeader& out, const gdcm::File& file, const gdcm::Image& image,
               int frame) {
  const gdcm::DataSet& ds = file.GetDataSet();
  const int group_frame = std::max(frame, 0);
  read_image_description(out, file, image);
  check_pixel_layout(out, image.GetPixelFormat());
  read_header_bits(out, ds);
  read_anatomy(out, ds, group_frame);
  read_modality_lut(out, ds, group_frame);
  read_window(out, ds, group_frame);
  read_voi_lut(out, ds);
}

// The window actually used: the file's first, or the one at window_index.
void select_window(data::DicomHeader& info, const gdcm::File& file, int window_index, int frame) {
  if (window_index == 0 || !info.has_window) return;
  std::optional<gdcm::DataSet> macro;
  const gdcm::DataSet& voi = window_data_set(file.GetDataSet(), std::max(frame, 0), macro);
  auto c = decimal_value(voi, Tag(0x0028, 0x1050), window_index);
  auto w = decimal_value(voi, Tag(0x0028, 0x1051), window_index);
  if (c && w) {
    info.window_center = *c;
    info.window_width = *w;
  }
}

}  // namespace mbmd::dicom_decoder
