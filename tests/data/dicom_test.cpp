// DICOM decoding: every pixel is checked against a plain scalar evaluation of the DICOM formulas
// (PS3.3 C.11.1 modality LUT, C.11.2 VOI LUT / window, C.7.6.3.1.2 MONOCHROME1), for files
// written by GDCM in the layouts mammograms use.
#include "mbmd/data/dicom.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "dicom_fixtures.h"
#include "mbmd/core/error.h"

namespace mbmd::data {
namespace {

using test::DicomSpec;
using test::TempDir;

// Deterministic values covering the whole range of `bits` stored bits.
std::vector<int32_t> ramp(size_t count, int bits, int step = 37) {
  std::vector<int32_t> v(count);
  const int64_t range = int64_t{1} << bits;
  for (size_t i = 0; i < count; ++i) v[i] = static_cast<int32_t>((i * step + i / 7) % range);
  return v;
}

double linear_window(double x, double c, double w) {
  if (x <= c - 0.5 - (w - 1) / 2) return 0.0;
  if (x > c - 0.5 + (w - 1) / 2) return 255.0;
  return ((x - (c - 0.5)) / (w - 1) + 0.5) * 255.0;
}

double linear_exact_window(double x, double c, double w) {
  if (x <= c - w / 2) return 0.0;
  if (x > c + w / 2) return 255.0;
  return ((x - c) / w + 0.5) * 255.0;
}

// Checks every pixel of `got` ([H, W] or [F, H, W]) against expected(i) for flat index i.
void expect_pixels(const at::Tensor& got, const std::function<double(size_t)>& expected,
                   double tolerance = 1e-3) {
  at::Tensor flat = got.contiguous().flatten();
  const float* p = flat.data_ptr<float>();
  int bad = 0;
  for (int64_t i = 0; i < flat.numel(); ++i) {
    const double e = expected(static_cast<size_t>(i));
    if (std::abs(p[i] - e) > tolerance && ++bad <= 5)
      ADD_FAILURE() << "pixel " << i << ": got " << p[i] << ", expected " << e;
  }
  EXPECT_EQ(bad, 0);
}

TEST(Dicom, Monochrome2TwelveBitsRescaleAndLinearWindow) {
  TempDir dir;
  DicomSpec spec;
  spec.bits_stored = 12;
  spec.values = ramp(64 * 48, 12);
  // Garbage in the unused high bits (overlays of old scanners) must be masked off.
  for (size_t i = 0; i < spec.values.size(); i += 5) spec.values[i] |= 0xA000;
  spec.slope = 2.0;
  spec.intercept = -100.0;
  spec.window_center = "3000";
  spec.window_width = "2001";
  spec.image_laterality = "R";
  spec.view = "CC";
  spec.patient_id = "abc123";
  const std::string path = dir / "m2_12.dcm";
  test::write_dicom(path, spec);

  DicomImage img = read_dicom(path);
  EXPECT_EQ(img.rows, 48);
  EXPECT_EQ(img.cols, 64);
  EXPECT_EQ(img.frames, 1);
  EXPECT_EQ(img.bits_stored, 12);
  EXPECT_EQ(img.bits_allocated, 16);
  EXPECT_EQ(img.photometric, "MONOCHROME2");
  EXPECT_EQ(img.laterality, "R");
  EXPECT_EQ(img.view, "CC");
  EXPECT_EQ(img.patient_id, "abc123");
  EXPECT_DOUBLE_EQ(img.rescale_slope, 2.0);
  EXPECT_DOUBLE_EQ(img.rescale_intercept, -100.0);
  ASSERT_TRUE(img.has_window);
  ASSERT_EQ(img.pixels.dim(), 2);
  EXPECT_EQ(img.pixels.size(0), 48);
  EXPECT_EQ(img.pixels.size(1), 64);
  EXPECT_EQ(img.pixels.scalar_type(), at::kFloat);
  const auto values = ramp(64 * 48, 12);
  expect_pixels(img.pixels,
                [&](size_t i) { return linear_window(values[i] * 2.0 - 100.0, 3000.0, 2001.0); });
  // Not rounded: some pixels fall strictly between integers.
  at::Tensor frac = img.pixels - img.pixels.floor();
  EXPECT_GT(frac.gt(0.01).sum().item<int64_t>(), 100);

  // The modality-only output stops after the rescale.
  DicomOptions raw;
  raw.modality_only = true;
  expect_pixels(read_dicom(path, raw).pixels, [&](size_t i) { return values[i] * 2.0 - 100.0; });
}

TEST(Dicom, Monochrome1FourteenBitsWithoutWindowIsStretchedAndInverted) {
  TempDir dir;
  DicomSpec spec;
  spec.bits_stored = 14;
  spec.photometric = "MONOCHROME1";
  spec.values = ramp(64 * 48, 14, 101);
  spec.laterality = "L";  // only the series laterality (0020,0060)
  spec.view = "MLO";
  const std::string path = dir / "m1_14.dcm";
  test::write_dicom(path, spec);

  DicomImage img = read_dicom(path);
  EXPECT_EQ(img.photometric, "MONOCHROME1");
  EXPECT_EQ(img.bits_stored, 14);
  EXPECT_EQ(img.laterality, "L");
  EXPECT_EQ(img.view, "MLO");
  EXPECT_FALSE(img.has_window);
  const auto& v = spec.values;
  const double lo = *std::min_element(v.begin(), v.end());
  const double hi = *std::max_element(v.begin(), v.end());
  expect_pixels(img.pixels, [&](size_t i) { return 255.0 - (v[i] - lo) / (hi - lo) * 255.0; });

  DicomOptions bits;
  bits.no_window = NoWindow::bit_range;
  expect_pixels(read_dicom(path, bits).pixels,
                [&](size_t i) { return 255.0 - v[i] / 16383.0 * 255.0; });
}

TEST(Dicom, SixteenBitsLinearExactAndSecondWindow) {
  TempDir dir;
  DicomSpec spec;
  spec.values = ramp(64 * 48, 16, 977);
  spec.window_center = "30000\\20000";
  spec.window_width = "40000\\10000";
  spec.voi_function = "LINEAR_EXACT";
  const std::string path = dir / "m2_16.dcm";
  test::write_dicom(path, spec);
  const auto& v = spec.values;

  DicomImage img = read_dicom(path);
  EXPECT_EQ(img.bits_stored, 16);
  EXPECT_EQ(img.voi_function, "LINEAR_EXACT");
  expect_pixels(img.pixels, [&](size_t i) { return linear_exact_window(v[i], 30000.0, 40000.0); });

  DicomOptions second;
  second.window_index = 1;
  expect_pixels(read_dicom(path, second).pixels,
                [&](size_t i) { return linear_exact_window(v[i], 20000.0, 10000.0); });

  DicomOptions forced;
  forced.window_function = WindowFunction::linear;
  expect_pixels(read_dicom(path, forced).pixels,
                [&](size_t i) { return linear_window(v[i], 30000.0, 40000.0); });

  DicomOptions sigmoid;
  sigmoid.window_function = WindowFunction::sigmoid;
  expect_pixels(read_dicom(path, sigmoid).pixels, [&](size_t i) {
    return 255.0 / (1.0 + std::exp(-4.0 * (v[i] - 30000.0) / 40000.0));
  });
}

TEST(Dicom, SignedAndEightBit) {
  TempDir dir;
  DicomSpec s;
  s.bits_stored = 12;
  s.is_signed = true;
  s.values =
      ramp(64 * 48, 12);  // words 0..4095: 2048..4095 are negative in 12-bit two's complement
  s.intercept = 1000.0;
  s.window_center = "1000";
  s.window_width = "4096";
  test::write_dicom(dir / "signed.dcm", s);
  DicomOptions raw;
  raw.modality_only = true;
  DicomImage img = read_dicom(dir / "signed.dcm", raw);
  EXPECT_TRUE(img.is_signed);
  expect_pixels(img.pixels, [&](size_t i) {
    const int v = s.values[i] >= 2048 ? s.values[i] - 4096 : s.values[i];
    return v + 1000.0;
  });
  expect_pixels(read_dicom(dir / "signed.dcm").pixels, [&](size_t i) {
    const int v = s.values[i] >= 2048 ? s.values[i] - 4096 : s.values[i];
    return linear_window(v + 1000.0, 1000.0, 4096.0);
  });

  DicomSpec e;
  e.bits_allocated = 8;
  e.bits_stored = 8;
  e.values = ramp(64 * 48, 8);
  e.window_center = "128";
  e.window_width = "256";
  test::write_dicom(dir / "eight.dcm", e);
  DicomImage eight = read_dicom(dir / "eight.dcm");
  EXPECT_EQ(eight.bits_allocated, 8);
  expect_pixels(eight.pixels, [&](size_t i) { return linear_window(e.values[i], 128, 256); });
}

TEST(Dicom, VoiLutSequence) {
  TempDir dir;
  DicomSpec spec;
  spec.bits_stored = 12;
  spec.values = ramp(64 * 48, 12);
  spec.voi_lut_first = 100;
  spec.voi_lut_bits = 12;
  for (int i = 0; i < 3000; ++i) spec.voi_lut.push_back(static_cast<uint16_t>((i * i) % 4096));
  test::write_dicom(dir / "lut.dcm", spec);
  DicomImage img = read_dicom(dir / "lut.dcm");
  EXPECT_FALSE(img.has_window);
  ASSERT_EQ(img.voi_lut.table.size(), 3000u);
  expect_pixels(img.pixels, [&](size_t i) {
    const int index = std::clamp(spec.values[i] - 100, 0, 2999);
    return spec.voi_lut[index] * 255.0 / 4095.0;
  });
}

DicomSpec volume_spec(gdcm::TransferSyntax::TSType syntax) {
  DicomSpec spec;
  spec.frames = 3;
  spec.bits_stored = 10;
  spec.values = ramp(64 * 48 * 3, 10, 13);
  spec.sop_class = test::kBreastTomosynthesis;
  spec.shared_window = std::make_pair(512.0, 600.0);
  spec.image_laterality = "R";
  spec.syntax = syntax;
  return spec;
}

TEST(Dicom, MultiFrameVolumeWindowFromSharedFunctionalGroups) {
  TempDir dir;
  const DicomSpec spec = volume_spec(gdcm::TransferSyntax::ExplicitVRLittleEndian);
  const std::string path = dir / "volume.dcm";
  test::write_dicom(path, spec);

  DicomImage vol = read_dicom(path);
  EXPECT_EQ(vol.frames, 3);
  EXPECT_EQ(vol.sop_class, test::kBreastTomosynthesis);
  EXPECT_EQ(vol.laterality, "R");  // from the frame anatomy macro
  ASSERT_TRUE(vol.has_window);
  EXPECT_DOUBLE_EQ(vol.window_center, 512.0);
  EXPECT_DOUBLE_EQ(vol.window_width, 600.0);
  ASSERT_EQ(vol.pixels.dim(), 3);
  EXPECT_EQ(vol.pixels.size(0), 3);
  EXPECT_EQ(vol.pixels.size(1), 48);
  EXPECT_EQ(vol.pixels.size(2), 64);
  expect_pixels(vol.pixels, [&](size_t i) { return linear_window(spec.values[i], 512, 600); });

  for (int f = 0; f < 3; ++f) {
    DicomOptions one;
    one.frame = f;
    DicomImage slice = read_dicom(path, one);
    ASSERT_EQ(slice.pixels.dim(), 2);
    EXPECT_TRUE(at::equal(slice.pixels, vol.pixels[f])) << "frame " << f;
  }
  DicomImage info = read_dicom_info(path);
  EXPECT_EQ(info.frames, 3);
  EXPECT_FALSE(info.pixels.defined());
  EXPECT_DOUBLE_EQ(info.window_center, 512.0);

  DicomOptions beyond;
  beyond.frame = 3;
  try {
    read_dicom(path, beyond);
    FAIL() << "frame 3 of 3 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("frame 3 out of range"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
  }
}

struct Compressed {
  const char* name;
  gdcm::TransferSyntax::TSType syntax;
  const char* uid;
};

class DicomCompressed : public ::testing::TestWithParam<Compressed> {};

TEST_P(DicomCompressed, DecodesToTheSameValuesAsUncompressed) {
  TempDir dir;
  // A 12-bit MONOCHROME1 film and a 14-bit windowed one, each compressed and plain.
  DicomSpec film;
  film.bits_stored = 12;
  film.photometric = "MONOCHROME1";
  film.values = ramp(64 * 48, 12);
  film.window_center = "2048";
  film.window_width = "3000";
  DicomSpec deep = film;
  deep.bits_stored = 14;
  deep.photometric = "MONOCHROME2";
  deep.values = ramp(64 * 48, 14, 211);
  deep.window_center = "";
  for (const DicomSpec& base : {film, deep}) {
    DicomSpec packed = base;
    packed.syntax = GetParam().syntax;
    test::write_dicom(dir / "plain.dcm", base);
    test::write_dicom(dir / "packed.dcm", packed);
    DicomImage plain = read_dicom(dir / "plain.dcm");
    DicomImage img = read_dicom(dir / "packed.dcm");
    EXPECT_EQ(img.transfer_syntax, GetParam().uid);
    EXPECT_EQ(img.photometric, base.photometric);
    EXPECT_EQ(img.bits_stored, base.bits_stored);
    EXPECT_TRUE(at::equal(img.pixels, plain.pixels)) << GetParam().name;
  }
  // A compressed volume: every frame, and one frame alone.
  const DicomSpec vol = volume_spec(GetParam().syntax);
  test::write_dicom(dir / "volume.dcm", vol);
  DicomImage all = read_dicom(dir / "volume.dcm");
  expect_pixels(all.pixels, [&](size_t i) { return linear_window(vol.values[i], 512, 600); });
  DicomOptions second;
  second.frame = 1;
  EXPECT_TRUE(at::equal(read_dicom(dir / "volume.dcm", second).pixels, all.pixels[1]));
}

INSTANTIATE_TEST_SUITE_P(
    Syntaxes, DicomCompressed,
    ::testing::Values(
        Compressed{"JPEGLS", gdcm::TransferSyntax::JPEGLSLossless, "1.2.840.10008.1.2.4.80"},
        Compressed{"JPEG2000", gdcm::TransferSyntax::JPEG2000Lossless, "1.2.840.10008.1.2.4.90"},
        Compressed{"JPEGLossless", gdcm::TransferSyntax::JPEGLosslessProcess14_1,
                   "1.2.840.10008.1.2.4.70"}),
    [](const auto& info) { return std::string(info.param.name); });

void expect_error(const std::string& path, const std::string& what) {
  try {
    read_dicom(path);
    FAIL() << "no error for " << path;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

TEST(Dicom, ErrorsNameTheFileAndTheProblem) {
  TempDir dir;
  expect_error(dir / "absent.dcm", "not found");

  test::write_text(dir / "notes.dcm", "this is a text file, not a DICOM object\n");
  expect_error(dir / "notes.dcm", "not a DICOM file");

  test::write_dicom_without_pixels(dir / "empty.dcm");
  expect_error(dir / "empty.dcm", "no pixel data");
  EXPECT_THROW(read_dicom_info(dir / "empty.dcm"), Error);

  // A syntax this GDCM does not know (same length as Explicit VR Little Endian's UID).
  DicomSpec spec;
  spec.values = ramp(64 * 48, 16);
  test::write_dicom(dir / "future.dcm", spec);
  test::replace_transfer_syntax(dir / "future.dcm", "1.2.840.10008.1.2.1", "1.2.840.99999.9.9.9");
  expect_error(dir / "future.dcm", "unsupported transfer syntax '1.2.840.99999.9.9.9'");
}

}  // namespace
}  // namespace mbmd::data
