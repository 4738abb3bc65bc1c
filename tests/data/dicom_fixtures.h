// Test fixtures in the layouts the datasets use, written with GDCM's own writer (header-only so
// that every *_test.cpp of the data layer can use it; tests/data/*.cpp other than *_test.cpp are
// not built).
#pragma once

#include <gdcmDataSet.h>
#include <gdcmImage.h>
#include <gdcmImageChangeTransferSyntax.h>
#include <gdcmImageWriter.h>
#include <gdcmReader.h>
#include <gdcmSequenceOfItems.h>
#include <gdcmTrace.h>
#include <gdcmTransferSyntax.h>
#include <gdcmUIDGenerator.h>
#include <gdcmWriter.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mbmd::test {

inline const char* kMammogramForPresentation = "1.2.840.10008.5.1.4.1.1.1.2";
inline const char* kBreastTomosynthesis = "1.2.840.10008.5.1.4.1.1.13.1.3";

struct DicomSpec {
  int rows = 48;
  int cols = 64;
  int frames = 1;
  int bits_allocated = 16;
  int bits_stored = 16;
  int high_bit = -1;  // bits_stored - 1 when negative
  bool is_signed = false;
  std::string photometric = "MONOCHROME2";
  // rows * cols * frames raw words, written as they are (so unused high bits can be set).
  std::vector<int32_t> values;
  std::optional<double> slope, intercept;
  std::string window_center, window_width;  // top level (0028,1050/1051), multi-valued allowed
  std::string voi_function;                 // (0028,1056)
  std::optional<std::pair<double, double>> shared_window;  // Frame VOI LUT in (5200,9229)
  std::vector<uint16_t> voi_lut;                           // VOI LUT sequence data
  int voi_lut_first = 0;
  int voi_lut_bits = 16;
  std::string image_laterality;  // (0020,0062)
  std::string laterality;        // (0020,0060)
  std::string view;              // (0018,5101)
  std::string patient_id = "PAT0001";
  std::string sop_class = kMammogramForPresentation;
  gdcm::TransferSyntax::TSType syntax = gdcm::TransferSyntax::ExplicitVRLittleEndian;
};

inline void put_string(gdcm::DataSet& ds, uint16_t group, uint16_t element, gdcm::VR vr,
                       std::string value) {
  if (value.size() % 2) value.push_back(vr == gdcm::VR::UI ? '\0' : ' ');
  gdcm::DataElement de(gdcm::Tag(group, element));
  de.SetVR(vr);
  de.SetByteValue(value.data(), static_cast<uint32_t>(value.size()));
  ds.Replace(de);
}

// A sequence element with one item holding `item`.
inline gdcm::DataElement sequence_of(uint16_t group, uint16_t element, const gdcm::DataSet& item) {
  gdcm::SmartPointer<gdcm::SequenceOfItems> sq = new gdcm::SequenceOfItems;
  sq->SetLengthToUndefined();
  gdcm::Item it;
  it.SetVLToUndefined();
  it.SetNestedDataSet(item);
  sq->AddItem(it);
  gdcm::DataElement de(gdcm::Tag(group, element));
  de.SetVR(gdcm::VR::SQ);
  de.SetValue(*sq);
  de.SetVLToUndefined();
  return de;
}

inline std::string decimal(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

inline void write_dicom(const std::string& path, const DicomSpec& spec) {
  gdcm::Trace::SetWarning(false);  // "no photometric interpretation found" while it builds the file
  const size_t count = static_cast<size_t>(spec.rows) * spec.cols * spec.frames;
  if (spec.values.size() != count) throw std::runtime_error("fixture: wrong number of values");
  gdcm::SmartPointer<gdcm::Image> image = new gdcm::Image;
  image->SetNumberOfDimensions(spec.frames > 1 ? 3 : 2);
  image->SetDimension(0, spec.cols);
  image->SetDimension(1, spec.rows);
  if (spec.frames > 1) image->SetDimension(2, spec.frames);
  const int high_bit = spec.high_bit < 0 ? spec.bits_stored - 1 : spec.high_bit;
  gdcm::PixelFormat pf(1, spec.bits_allocated, spec.bits_stored, high_bit, spec.is_signed ? 1 : 0);
  image->SetPixelFormat(pf);
  image->SetPhotometricInterpretation(
      gdcm::PhotometricInterpretation::GetPIType(spec.photometric.c_str()));
  image->SetTransferSyntax(gdcm::TransferSyntax::ExplicitVRLittleEndian);
  std::vector<char> bytes(count * (spec.bits_allocated / 8));
  for (size_t i = 0; i < count; ++i) {
    if (spec.bits_allocated == 8) {
      bytes[i] = static_cast<char>(spec.values[i] & 0xff);
    } else {
      const uint16_t w = static_cast<uint16_t>(spec.values[i] & 0xffff);
      bytes[2 * i] = static_cast<char>(w & 0xff);
      bytes[2 * i + 1] = static_cast<char>(w >> 8);
    }
  }
  gdcm::DataElement pixels(gdcm::Tag(0x7fe0, 0x0010));
  pixels.SetByteValue(bytes.data(), static_cast<uint32_t>(bytes.size()));
  image->SetDataElement(pixels);

  gdcm::ImageWriter writer;
  if (spec.syntax != gdcm::TransferSyntax::ExplicitVRLittleEndian) {
    gdcm::ImageChangeTransferSyntax change;
    change.SetTransferSyntax(spec.syntax);
    change.SetInput(*image);
    if (!change.Change()) throw std::runtime_error("fixture: GDCM cannot compress " + path);
    writer.SetImage(change.GetOutput());
  } else {
    writer.SetImage(*image);
  }
  gdcm::DataSet& ds = writer.GetFile().GetDataSet();
  gdcm::UIDGenerator uid;
  put_string(ds, 0x0008, 0x0016, gdcm::VR::UI, spec.sop_class);
  put_string(ds, 0x0008, 0x0018, gdcm::VR::UI, uid.Generate());
  put_string(ds, 0x0008, 0x0060, gdcm::VR::CS, "MG");
  put_string(ds, 0x0010, 0x0020, gdcm::VR::LO, spec.patient_id);
  if (!spec.image_laterality.empty())
    put_string(ds, 0x0020, 0x0062, gdcm::VR::CS, spec.image_laterality);
  if (!spec.laterality.empty()) put_string(ds, 0x0020, 0x0060, gdcm::VR::CS, spec.laterality);
  if (!spec.view.empty()) put_string(ds, 0x0018, 0x5101, gdcm::VR::CS, spec.view);
  if (!spec.window_center.empty()) {
    put_string(ds, 0x0028, 0x1050, gdcm::VR::DS, spec.window_center);
    put_string(ds, 0x0028, 0x1051, gdcm::VR::DS, spec.window_width);
  }
  if (!spec.voi_function.empty()) put_string(ds, 0x0028, 0x1056, gdcm::VR::CS, spec.voi_function);
  if (spec.shared_window) {
    gdcm::DataSet voi;
    put_string(voi, 0x0028, 0x1050, gdcm::VR::DS, decimal(spec.shared_window->first));
    put_string(voi, 0x0028, 0x1051, gdcm::VR::DS, decimal(spec.shared_window->second));
    gdcm::DataSet anatomy_code;
    put_string(anatomy_code, 0x0008, 0x0100, gdcm::VR::SH, "T-04000");
    gdcm::DataSet anatomy;
    anatomy.Insert(sequence_of(0x0008, 0x2218, anatomy_code));
    put_string(anatomy, 0x0020, 0x9072, gdcm::VR::CS,
               spec.image_laterality.empty() ? "L" : spec.image_laterality);
    gdcm::DataSet shared;
    shared.Insert(sequence_of(0x0028, 0x9132, voi));
    shared.Insert(sequence_of(0x0020, 0x9071, anatomy));
    ds.Replace(sequence_of(0x5200, 0x9229, shared));
  }
  if (!spec.voi_lut.empty()) {
    gdcm::DataSet lut;
    uint16_t desc[3] = {static_cast<uint16_t>(spec.voi_lut.size()),
                        static_cast<uint16_t>(spec.voi_lut_first),
                        static_cast<uint16_t>(spec.voi_lut_bits)};
    gdcm::DataElement d(gdcm::Tag(0x0028, 0x3002));
    d.SetVR(gdcm::VR::US);
    d.SetByteValue(reinterpret_cast<const char*>(desc), 6);
    lut.Insert(d);
    gdcm::DataElement data(gdcm::Tag(0x0028, 0x3006));
    data.SetVR(gdcm::VR::OW);
    data.SetByteValue(reinterpret_cast<const char*>(spec.voi_lut.data()),
                      static_cast<uint32_t>(spec.voi_lut.size() * 2));
    lut.Insert(data);
    ds.Replace(sequence_of(0x0028, 0x3010, lut));
  }
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  writer.SetFileName(path.c_str());
  if (!writer.Write()) throw std::runtime_error("fixture: GDCM cannot write " + path);
  if (spec.slope || spec.intercept) {
    // GDCM's image writer refuses a rescale for mammography SOP classes; real files carry one
    // now and then, so it is added to the written file afterwards.
    gdcm::Reader reader;
    reader.SetFileName(path.c_str());
    if (!reader.Read()) throw std::runtime_error("fixture: cannot reread " + path);
    gdcm::DataSet& ds2 = reader.GetFile().GetDataSet();
    put_string(ds2, 0x0028, 0x1053, gdcm::VR::DS, decimal(spec.slope.value_or(1.0)));
    put_string(ds2, 0x0028, 0x1052, gdcm::VR::DS, decimal(spec.intercept.value_or(0.0)));
    gdcm::Writer rewrite;
    rewrite.SetFile(reader.GetFile());
    rewrite.SetFileName(path.c_str());
    if (!rewrite.Write()) throw std::runtime_error("fixture: GDCM cannot rewrite " + path);
  }
}

// The films of the INbreast-layout fixture, 64x48: 'A' 14 bits stored in 16, MONOCHROME2 with a
// window, right CC; 'B' 12 bits, MONOCHROME1, JPEG-LS; 'C' 16 bits, JPEG 2000.
inline std::vector<int32_t> inbreast_film_values(int bits, int seed) {
  std::vector<int32_t> v(64 * 48);
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<int32_t>((i * (31 + seed) + seed * 7) % (size_t{1} << bits));
  return v;
}

inline DicomSpec inbreast_film_spec(char film) {
  DicomSpec spec;
  if (film == 'A') {
    spec.bits_stored = 14;
    spec.values = inbreast_film_values(14, 1);
    spec.window_center = "8000";
    spec.window_width = "12000";
    spec.image_laterality = "R";
    spec.view = "CC";
  } else if (film == 'B') {
    spec.bits_stored = 12;
    spec.photometric = "MONOCHROME1";
    spec.values = inbreast_film_values(12, 2);
    spec.syntax = gdcm::TransferSyntax::JPEGLSLossless;
  } else {
    spec.values = inbreast_film_values(16, 3);
    spec.syntax = gdcm::TransferSyntax::JPEG2000Lossless;
  }
  return spec;
}

// The volumes of the BCS-DBT fixture: 5 frames of 64x48, 12 bits, a window in the shared
// functional groups; the stored value at (frame, y, x) grows towards the breast, on the right
// edge unless `breast_left`.
constexpr int kDbtRows = 48, kDbtCols = 64, kDbtFrames = 5;
constexpr double kDbtCenter = 700, kDbtWidth = 1000;

inline int32_t dbt_voxel(int f, int y, int x, bool breast_left) {
  const int column = breast_left ? (kDbtCols - 1 - x) : x;
  return f * 100 + y * 7 + column * 11;
}

inline void write_dbt_volume(const std::string& path, bool breast_left,
                             gdcm::TransferSyntax::TSType syntax, const std::string& patient) {
  DicomSpec spec;
  spec.rows = kDbtRows;
  spec.cols = kDbtCols;
  spec.frames = kDbtFrames;
  spec.bits_stored = 12;
  spec.sop_class = kBreastTomosynthesis;
  spec.shared_window = std::make_pair(kDbtCenter, kDbtWidth);
  spec.patient_id = patient;
  spec.syntax = syntax;
  for (int f = 0; f < kDbtFrames; ++f)
    for (int y = 0; y < kDbtRows; ++y)
      for (int x = 0; x < kDbtCols; ++x) spec.values.push_back(dbt_voxel(f, y, x, breast_left));
  write_dicom(path, spec);
}

// A DICOM file with a full header but no Pixel Data element.
inline void write_dicom_without_pixels(const std::string& path) {
  gdcm::Writer writer;
  gdcm::DataSet& ds = writer.GetFile().GetDataSet();
  gdcm::UIDGenerator uid;
  put_string(ds, 0x0008, 0x0016, gdcm::VR::UI, kMammogramForPresentation);
  put_string(ds, 0x0008, 0x0018, gdcm::VR::UI, uid.Generate());
  put_string(ds, 0x0008, 0x0060, gdcm::VR::CS, "MG");
  put_string(ds, 0x0010, 0x0020, gdcm::VR::LO, "NOPIXELS");
  writer.GetFile().GetHeader().SetDataSetTransferSyntax(
      gdcm::TransferSyntax::ExplicitVRLittleEndian);
  writer.SetCheckFileMetaInformation(true);
  writer.SetFileName(path.c_str());
  if (!writer.Write()) throw std::runtime_error("fixture: GDCM cannot write " + path);
}

// Rewrites the transfer syntax UID in a file's meta header in place (same length), as a file
// written by a system that uses a syntax this build does not know would carry.
inline void replace_transfer_syntax(const std::string& path, const std::string& from,
                                    const std::string& to) {
  if (from.size() != to.size()) throw std::runtime_error("fixture: UIDs differ in length");
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  const size_t at = bytes.find(from);
  if (at == std::string::npos || at > 1024) throw std::runtime_error("fixture: UID not in meta");
  bytes.replace(at, from.size(), to);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

inline void write_text(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// A fresh temporary directory removed when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("mbmd_data_test_" + std::to_string(rd()) + "_" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string str() const { return path_.string(); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace mbmd::test
