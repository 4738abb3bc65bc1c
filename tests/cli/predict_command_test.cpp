// `mbmd predict` on PNG files and folders with a tiny model: a valid COCO results file with boxes
// in original pixels, overlay PNGs, and clear errors for bad input.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "cli/run_mbmd.h"
#include "cli/untrained_checkpoint.h"
#include "data/dicom_fixtures.h"
#include "mbmd/data/image_io.h"
#include "mbmd/data/png.h"
#include "mbmd/model/detector.h"
#include "mbmd/train/checkpointing.h"
#include "mbmd_paths.h"
#include "python_interpreter.h"
#include "synthetic_set.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;

using mbmd::testing::ProgramRun;
using mbmd::testing::run_command;
using mbmd::testing::run_mbmd;

class PredictCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(MBMD_BINARY)) GTEST_FAIL() << MBMD_BINARY << " is missing: build mbmd first";
    root_ = mbmd::testing::fresh_test_dir("mbmd_predict_cmd_");
    // Images of 200x150 (not the model's 128x96) so that boxes must be scaled back.
    const auto ann = mbmd::testing::write_synthetic_set((root_ / "images").string(), 2, 200, 150);
    checkpoint_ = (root_ / "model.ckpt").string();
    mbmd::testing::write_untrained_checkpoint(checkpoint_, ann);
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string path(const std::string& name) const { return (root_ / name).string(); }

  fs::path root_;
  std::string checkpoint_;
};

TEST_F(PredictCommand, PngGivesCocoResultsAndAnOverlay) {
  const ProgramRun r = run_mbmd("predict --checkpoint '" + checkpoint_ + "' '" +
                                path("images/syn0.png") + "' --out '" + path("out/dets.json") +
                                "' --overlay '" + path("overlays") + "' --overlay-thr 0");
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream in(path("out/dets.json"));
  const auto dets = nlohmann::json::parse(in);
  ASSERT_TRUE(dets.is_array());
  ASSERT_FALSE(dets.empty());
  EXPECT_LE(dets.size(), 100u);  // max_per_img
  for (const auto& d : dets) {
    EXPECT_EQ(d.at("image_id"), "syn0");
    EXPECT_EQ(d.at("category_id"), 1);
    const auto b = d.at("bbox").get<std::vector<double>>();
    ASSERT_EQ(b.size(), 4u);
    EXPECT_GE(b[0], 0.0);
    EXPECT_GE(b[1], 0.0);
    EXPECT_GE(b[2], 0.0);
    EXPECT_LE(b[0] + b[2], 200.0 + 1e-3);  // original pixels, not the 128x96 input
    EXPECT_LE(b[1] + b[3], 150.0 + 1e-3);
    const double s = d.at("score").get<double>();
    EXPECT_GE(s, 0.0);
    EXPECT_LE(s, 1.0);
  }
  double widest = 0;
  for (const auto& d : dets)
    widest = std::max(widest, d.at("bbox")[0].get<double>() + d.at("bbox")[2].get<double>());
  EXPECT_GT(widest, 128.0) << "boxes look like input coordinates";

  const auto overlay = mbmd::data::read_image(path("overlays/syn0.png"));
  EXPECT_EQ(overlay.info.width, 200);
  EXPECT_EQ(overlay.info.height, 150);
  const auto original = mbmd::data::read_image(path("images/syn0.png"));
  EXPECT_FALSE(overlay.pixels.equal(original.pixels));  // boxes were drawn

  // A score threshold keeps the entries at or above it.
  const ProgramRun high =
      run_mbmd("predict --checkpoint '" + checkpoint_ + "' '" + path("images/syn0.png") +
               "' --out '" + path("high.json") + "' --score-thr 0.5");
  ASSERT_EQ(high.status, 0) << high.output;
  std::ifstream hin(path("high.json"));
  const auto kept = nlohmann::json::parse(hin);
  size_t expected = 0;
  for (const auto& d : dets) expected += d.at("score").get<double>() >= 0.5;
  EXPECT_EQ(kept.size(), expected);
}

TEST_F(PredictCommand, FoldersAndErrors) {
  // A folder: both images (the json beside them is not an image).
  ProgramRun r = run_mbmd("predict --checkpoint '" + checkpoint_ + "' '" + path("images") +
                          "' --out '" + path("all.json") + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream in(path("all.json"));
  std::set<std::string> ids;
  for (const auto& d : nlohmann::json::parse(in)) ids.insert(d.at("image_id").get<std::string>());
  EXPECT_EQ(ids, (std::set<std::string>{"syn0", "syn1"}));

  r = run_mbmd("predict --checkpoint '" + checkpoint_ + "' '" + path("nothing.png") + "' --out '" +
               path("x.json") + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("nothing.png"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(path("x.json")));

  r = run_mbmd("predict --checkpoint '" + checkpoint_ + "' '" + path("images/set.json") +
               "' --out '" + path("x.json") + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("not a DICOM, PNG"), std::string::npos) << r.output;

  std::ofstream(path("bad.ckpt")) << "not a checkpoint";
  r = run_mbmd("predict --checkpoint '" + path("bad.ckpt") + "' '" + path("images") + "' --out '" +
               path("x.json") + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("bad.ckpt"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(path("x.json")));

  r = run_mbmd("predict '" + path("images") + "' --out '" + path("x.json") + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--checkpoint"), std::string::npos) << r.output;
}

// With --gt the results use the ground truth's integer image ids (what pycocotools' loadRes
// requires: every result's image_id among the ground truth's), carry the input's file name, and
// evaluate with `mbmd eval` against that ground truth.
TEST_F(PredictCommand, GroundTruthIdsAndFileNames) {
  const std::string gt = path("images/set.json");
  const ProgramRun r = run_mbmd("predict --checkpoint '" + checkpoint_ + "' '" + path("images") +
                                "' --gt '" + gt + "' --out '" + path("dets.json") + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream gt_in(gt);
  const auto truth = nlohmann::json::parse(gt_in);
  std::set<int64_t> gt_ids;
  for (const auto& image : truth["images"]) gt_ids.insert(image["id"].get<int64_t>());
  std::ifstream in(path("dets.json"));
  const auto dets = nlohmann::json::parse(in);
  ASSERT_FALSE(dets.empty());
  std::set<std::string> files;
  for (const auto& d : dets) {
    ASSERT_TRUE(d["image_id"].is_number_integer()) << d.dump();
    EXPECT_TRUE(gt_ids.count(d["image_id"].get<int64_t>())) << d.dump();
    files.insert(fs::path(d["file_name"].get<std::string>()).filename().string());
    EXPECT_FALSE(d.contains("laterality")) << "a PNG says nothing of its side: " << d.dump();
  }
  EXPECT_EQ(files, (std::set<std::string>{"syn0.png", "syn1.png"}));
  const ProgramRun eval =
      run_mbmd("eval --gt '" + gt + "' --dets '" + path("dets.json") + "' --json", false);
  EXPECT_EQ(eval.status, 0) << eval.output;

  // An input the ground truth does not list is named.
  fs::copy_file(path("images/syn0.png"), path("other.png"));
  const ProgramRun missing =
      run_mbmd("predict --checkpoint '" + checkpoint_ + "' '" + path("other.png") + "' --gt '" +
               gt + "' --out '" + path("d2.json") + "'");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.output.find("other.png"), std::string::npos) << missing.output;
  EXPECT_FALSE(fs::exists(path("d2.json")));
}

// pycocotools' loadRes and COCOeval take predict --gt's output as it is
// (tools/check_coco_results.py; pycocotools is not a Debian package: the test runs where PYTHONPATH
// or Python finds a build).
TEST_F(PredictCommand, PycocotoolsAcceptsGroundTruthIds) {
  const std::string python = mbmd::testing::python_interpreter();
  if (run_command(python + " -c 'import pycocotools.coco, pycocotools.cocoeval' 2>&1").status != 0)
    GTEST_SKIP() << "pycocotools is not importable by " << python
                 << " (build cocoapi's PythonAPI and set PYTHONPATH; tools/check_coco_results.py)";
  const std::string gt = path("images/set.json");
  const ProgramRun r = run_mbmd("predict --checkpoint '" + checkpoint_ + "' '" + path("images") +
                                "' --gt '" + gt + "' --out '" + path("dets.json") + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  const ProgramRun check =
      run_command(python + " " MBMD_SOURCE_DIR "/tools/check_coco_results.py '" + gt + "' '" +
                  path("dets.json") + "' 2>&1");
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_NE(check.output.find("pycocotools accepts"), std::string::npos) << check.output;
}

// Sorted [x, y, w, h, score] rows of a results file, for comparing runs.
std::vector<std::vector<double>> sorted_rows(const std::string& path, double width = -1) {
  std::ifstream in(path);
  std::vector<std::vector<double>> rows;
  for (const auto& d : nlohmann::json::parse(in)) {
    std::vector<double> row = d["bbox"].get<std::vector<double>>();
    if (width > 0) row[0] = width - row[0] - row[2];  // mirrored
    row.push_back(d["score"].get<double>());
    rows.push_back(row);
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a[4] > b[4]; });
  return rows;
}

void expect_same_rows(const std::vector<std::vector<double>>& a,
                      const std::vector<std::vector<double>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t k = 0; k < 5; ++k) EXPECT_NEAR(a[i][k], b[i][k], 2e-3) << "row " << i << " " << k;
}

// Flip TTA is mirror-symmetric: the merged runs of a film are the mirror of those of its mirrored
// film. Two copies of one model merge to that model's own results (WBF of equal boxes).
TEST_F(PredictCommand, FlipTtaAndEnsembles) {
  const mbmd::data::DecodedImage film = mbmd::data::read_png(path("images/syn0.png"));
  mbmd::data::write_png(path("mirror.png"), film.pixels.flip({1}), 8);
  const std::string model = " --checkpoint '" + checkpoint_ + "' ";
  for (const auto& [input, out] : {std::pair{path("images/syn0.png"), path("tta.json")},
                                   std::pair{path("mirror.png"), path("tta_mirror.json")}}) {
    const ProgramRun r =
        run_mbmd("predict" + model + "'" + input + "' --out '" + out + "' --tta flip --threads 1");
    ASSERT_EQ(r.status, 0) << r.output;
  }
  const auto tta = sorted_rows(path("tta.json"));
  ASSERT_FALSE(tta.empty());
  expect_same_rows(tta, sorted_rows(path("tta_mirror.json"), film.pixels.size(1)));

  for (const char* merge : {"wbf", "nms"}) {
    const ProgramRun single = run_mbmd("predict" + model + "'" + path("images/syn0.png") +
                                       "' --out '" + path("single.json") + "' --threads 1");
    const ProgramRun twice =
        run_mbmd("predict" + model + model + "'" + path("images/syn0.png") + "' --out '" +
                 path("twice.json") + "' --merge " + merge + " --threads 1");
    ASSERT_EQ(single.status, 0) << single.output;
    ASSERT_EQ(twice.status, 0) << twice.output;
    expect_same_rows(sorted_rows(path("single.json")), sorted_rows(path("twice.json")));
  }
}

// A DICOM input's laterality, view and patient travel with its results.
TEST_F(PredictCommand, DicomAttributesReachTheResults) {
  mbmd::test::DicomSpec spec;
  spec.cols = 200;
  spec.rows = 150;
  spec.image_laterality = "L";
  spec.view = "CC";
  spec.patient_id = "PAT0042";
  for (int i = 0; i < spec.rows * spec.cols; ++i) spec.values.push_back((i * 37) % 4096);
  mbmd::test::write_dicom(path("film.dcm"), spec);
  const ProgramRun r = run_mbmd("predict --checkpoint '" + checkpoint_ + "' '" + path("film.dcm") +
                                "' --out '" + path("dets.json") + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream in(path("dets.json"));
  const auto dets = nlohmann::json::parse(in);
  ASSERT_FALSE(dets.empty());
  for (const auto& d : dets) {
    EXPECT_EQ(d["image_id"], "film");
    EXPECT_EQ(d["laterality"], "L");
    EXPECT_EQ(d["view"], "CC");
    EXPECT_EQ(d["patient_id"], "PAT0042");
  }
}

// CRC-32 of PNG chunks (type and data), to write a header that libpng accepts.
uint32_t png_crc(const std::string& bytes) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char c : bytes) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xffffffffu;
}

std::string png_chunk(const std::string& type, const std::string& data) {
  auto be32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  return be32(static_cast<uint32_t>(data.size())) + type + data + be32(png_crc(type + data));
}

// A 300-byte PNG whose header declares 60000x60000 16-bit pixels (7.2 GB decoded).
void write_bomb_png(const std::string& path) {
  const std::string ihdr = std::string("\x00\x00\xea\x60\x00\x00\xea\x60\x10\x00\x00\x00\x00", 13);
  std::ofstream out(path, std::ios::binary);
  out << std::string("\x89PNG\r\n\x1a\n", 8) << png_chunk("IHDR", ihdr)
      << png_chunk("IDAT", std::string(256, '\0')) << png_chunk("IEND", "");
}

// The largest resident set of any child process waited for so far, in bytes.
long peak_child_memory() {
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  return usage.ru_maxrss * 1024L;
}

// One bad file does not lose the others: a DICOM without pixels, a DICOM on which GDCM aborts, a
// PNG bomb and a truncated PNG among good films are named with their reasons, the good films'
// results are written, the run stays under 2 GB, and the exit status is 1 (0 with --skip-bad).
TEST_F(PredictCommand, BadFilesAreNamedAndTheOthersWritten) {
  fs::create_directories(path("films"));
  fs::copy_file(path("images/syn0.png"), path("films/good0.png"));
  fs::copy_file(path("images/syn1.png"), path("films/good1.png"));
  mbmd::test::write_dicom_without_pixels(path("films/nopixels.dcm"));
  fs::copy_file(std::string(MBMD_SOURCE_DIR) + "/tests/fixtures/dicom/gdcm_assert_file_meta.dcm",
                path("films/gdcm_abort.dcm"));
  write_bomb_png(path("films/bomb.png"));
  {
    std::ifstream in(path("images/syn0.png"), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(path("films/truncated.png"), std::ios::binary)
        << bytes.substr(0, bytes.size() / 2);
  }
  const std::string command = "predict --checkpoint '" + checkpoint_ + "' '" + path("films") +
                              "' --out '" + path("out/dets.json") + "'";
  const ProgramRun r = run_mbmd(command);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_LT(peak_child_memory(), 2L << 30);
  EXPECT_NE(r.output.find("signal 6"), std::string::npos) << r.output;
  for (const char* name : {"nopixels.dcm", "gdcm_abort.dcm", "bomb.png", "truncated.png"})
    EXPECT_NE(r.output.find(std::string("skipped ") + path("films/") + name), std::string::npos)
        << name << "\n"
        << r.output;
  EXPECT_NE(r.output.find("data.max_pixels"), std::string::npos) << r.output;
  std::ifstream dets_in(path("out/dets.json"));
  const auto dets = nlohmann::json::parse(dets_in);
  std::set<std::string> found;
  for (const auto& d : dets) found.insert(d["image_id"].get<std::string>());
  EXPECT_EQ(found, (std::set<std::string>{"good0", "good1"}));
  std::ifstream errors_in(path("out/dets.errors.json"));
  const auto errors = nlohmann::json::parse(errors_in);
  ASSERT_EQ(errors.size(), 4u) << errors.dump();
  for (const auto& e : errors) EXPECT_FALSE(e["reason"].get<std::string>().empty()) << e.dump();

  const ProgramRun skipping = run_mbmd(command + " --skip-bad");
  EXPECT_EQ(skipping.status, 0) << skipping.output;
}

// A stopped run continues with --resume: films listed as done keep their results and are not
// run again; the others are added; the progress file goes once the run is whole.
TEST_F(PredictCommand, ResumeKeepsWhatWasDoneAndAddsTheRest) {
  const std::string command = "predict --checkpoint '" + checkpoint_ + "' '" +
                              path("images/syn0.png") + "' '" + path("images/syn1.png") +
                              "' --out '" + path("dets.json") + "'";
  // What a run killed after its first film leaves: that film's results (a score no model gives,
  // to see it kept) and the progress file naming it.
  nlohmann::json first = nlohmann::json::array();
  first.push_back({{"image_id", "syn0"},
                   {"category_id", 1},
                   {"bbox", {1, 2, 3, 4}},
                   {"score", 0.123456},
                   {"file_name", path("images/syn0.png")}});
  std::ofstream(path("dets.json")) << first.dump();
  std::ofstream(path("dets.progress.json"))
      << nlohmann::json{{"done", {path("images/syn0.png")}}}.dump();
  const ProgramRun r = run_mbmd(command + " --resume");
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream in(path("dets.json"));
  const auto dets = nlohmann::json::parse(in);
  int kept = 0, added = 0;
  for (const auto& d : dets) {
    if (d["image_id"] == "syn0") {
      EXPECT_DOUBLE_EQ(d["score"].get<double>(), 0.123456) << "syn0 was run again";
      ++kept;
    } else if (d["image_id"] == "syn1") {
      ++added;
    }
  }
  EXPECT_EQ(kept, 1);
  EXPECT_GT(added, 0);
  EXPECT_FALSE(fs::exists(path("dets.progress.json")));
}

// runtime.precision=bf16 from the command line; on a CPU without BF16 (MBMD_CPU_BF16=0 plays
// one) the run falls back to fp32, says so, and gives the fp32 results.
TEST_F(PredictCommand, Bf16PrecisionAndItsFallback) {
  const std::string base =
      "predict --checkpoint '" + checkpoint_ + "' '" + path("images/syn0.png") + "' --out '";
  const ProgramRun fp32 = run_mbmd(base + path("fp32.json") + "'");
  ASSERT_EQ(fp32.status, 0) << fp32.output;
  const ProgramRun bf16 = run_mbmd(base + path("bf16.json") + "' --set runtime.precision=bf16");
  ASSERT_EQ(bf16.status, 0) << bf16.output;
  std::ifstream bf16_in(path("bf16.json"));
  EXPECT_FALSE(nlohmann::json::parse(bf16_in).empty());
  const ProgramRun fallback =
      mbmd::testing::run_command(std::string("MBMD_CPU_BF16=0 '") + MBMD_BINARY + "' " + base +
                                 path("fallback.json") + "' --set runtime.precision=bf16 2>&1");
  ASSERT_EQ(fallback.status, 0) << fallback.output;
  EXPECT_NE(fallback.output.find("no BF16 instructions"), std::string::npos) << fallback.output;
  std::ifstream a(path("fp32.json")), b(path("fallback.json"));
  EXPECT_EQ(nlohmann::json::parse(a), nlohmann::json::parse(b));
  const ProgramRun bad = run_mbmd(base + path("bad.json") + "' --set runtime.precision=fp16");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("runtime.precision"), std::string::npos) << bad.output;
}

}  // namespace
