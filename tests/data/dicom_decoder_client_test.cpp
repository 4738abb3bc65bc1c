// The isolated DICOM decoder: files that make GDCM abort, and decoders that crash, lie or are
// missing, are mbmd::Errors naming the file; the process reading them carries on.
#include "dicom_decoder_client.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <filesystem>
#include <string>

#include "dicom_fixtures.h"
#include "expect_error.h"
#include "mbmd/data/dicom.h"
#include "mbmd_paths.h"

namespace mbmd::data {
namespace {

using test::DicomSpec;
using test::TempDir;
using testing::expect_error;

std::string fixture(const std::string& name) {
  return std::string(MBMD_SOURCE_DIR) + "/tests/fixtures/dicom/" + name;
}

// Points MBMD_DICOM_DECODER at another program for the life of the object.
class DecoderOverride {
 public:
  explicit DecoderOverride(const std::string& program) {
    ::setenv("MBMD_DICOM_DECODER", program.c_str(), 1);
  }
  ~DecoderOverride() { ::unsetenv("MBMD_DICOM_DECODER"); }
};

std::string write_script(const TempDir& dir, const std::string& name, const std::string& body) {
  const std::string path = dir / name;
  test::write_text(path, "#!/bin/sh\n" + body + "\n");
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

// Mutated files on which Debian's GDCM (built with assertions) aborts: before the decoder ran in
// its own process, each of them ended the whole program with SIGABRT.
TEST(DicomDecoderClient, FilesThatMakeGdcmAbortAreNamedErrors) {
  for (const char* name : {"gdcm_assert_file_meta.dcm", "gdcm_assert_explicit_element.dcm",
                           "gdcm_assert_reader.dcm"}) {
    const std::string path = fixture(name);
    expect_error([&] { read_dicom_info(path); }, {path, "DICOM decoder", "signal 6"});
    expect_error([&] { read_dicom(path); }, {path, "signal 6", "Assertion"});
    DicomOptions one;
    one.frame = 0;
    expect_error([&] { read_dicom(path, one); }, {path, "signal 6"});
  }
}

TEST(DicomDecoderClient, ADecoderThatCrashesOrStopsEarlyIsAnError) {
  TempDir dir;
  DicomSpec spec;
  spec.values = std::vector<int32_t>(8 * 8, 100);
  spec.rows = spec.cols = 8;
  test::write_dicom(dir / "good.dcm", spec);
  const std::string good = dir / "good.dcm";
  {
    DecoderOverride crash(write_script(dir, "segv.sh", "kill -SEGV $$"));
    expect_error([&] { read_dicom(good); }, {good, "signal 11"});
  }
  {
    // The header line, then one pixel byte fewer than it promises.
    DecoderOverride short_answer(
        write_script(dir, "short.sh", "\"" + dicom_decoder_path() + "\" \"$@\" | head -c -1"));
    expect_error([&] { read_dicom(good); }, {good, "DICOM decoder"});
  }
  {
    DecoderOverride liar(write_script(dir, "liar.sh", "echo '{\"header\": 5}'"));
    expect_error([&] { read_dicom(good); }, {good, "answer cannot be read"});
  }
  {
    DecoderOverride missing(dir / "no-such-decoder");
    expect_error([&] { read_dicom(good); }, {"cannot start", "no-such-decoder"});
  }
  EXPECT_EQ(read_dicom(good).pixels.size(0), 8);
}

// A kilobyte of damaged DICOM whose stated lengths made GDCM allocate about 4 GB (and take
// seconds) is refused within the decoder's memory cap.
TEST(DicomDecoderClient, AFileClaimingGigabytesIsRefusedWithinTheMemoryCap) {
  const std::string path = fixture("claims_gigabytes.dcm");
  expect_error([&] { read_dicom(path); }, {path});
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  EXPECT_LT(usage.ru_maxrss * 1024L, 1L << 30);  // the largest decoder run so far
}

}  // namespace
}  // namespace mbmd::data
