// `mbmd predict --sr-out` on the INbreast-layout films and the BCS-DBT volumes of the data tests:
// every report passes dicom3tools' dciodvfy without an error line, parses with DCMTK's dsrdump,
// belongs to its source's study and refers to its image, and its boxes and scores, read back with
// DCMTK, are the COCO results' at or above the report threshold.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmsr/dsrdoc.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cli/run_mbmd.h"
#include "cli/untrained_checkpoint.h"
#include "data/dicom_fixtures.h"
#include "mbmd_paths.h"

namespace {

namespace fs = std::filesystem;

using mbmd::testing::ProgramRun;
using mbmd::testing::run_command;
using mbmd::testing::run_mbmd;

constexpr double kSrThr = 0.3;

// A box as the report or the results give it: frame (-1 for a film), corners, score.
struct Box {
  int frame = -1;
  double x1, y1, x2, y2, score;
};

std::string text_of(DcmDataset& ds, const DcmTagKey& tag) {
  OFString value;
  ds.findAndGetOFString(tag, value);
  return value.c_str();
}

// What a report says: its header UIDs, the image it refers to, its boxes.
struct Report {
  std::string study_uid, series_uid, referenced_instance;
  std::vector<Box> boxes;
  bool says_no_finding = false;
};

// Reads a report back with DCMTK: each SCOORD polyline (5 points, closed) with the frame of its
// image reference, and the score after it.
Report read_report(const std::string& path) {
  DcmFileFormat file;
  EXPECT_TRUE(file.loadFile(path.c_str()).good()) << path;
  Report report;
  DcmDataset& ds = *file.getDataset();
  report.study_uid = text_of(ds, DCM_StudyInstanceUID);
  report.series_uid = text_of(ds, DCM_SeriesInstanceUID);
  DSRDocument doc;
  EXPECT_TRUE(doc.read(ds).good()) << path;
  DSRDocumentTree& tree = doc.getTree();
  Box box;
  if (tree.gotoRoot() == 0) return report;
  do {
    DSRContentItem& item = tree.getCurrentContentItem();
    switch (item.getValueType()) {
      case DSRTypes::VT_SCoord: {
        const DSRGraphicDataList& points = item.getSpatialCoordinatesPtr()->getGraphicDataList();
        EXPECT_EQ(points.getNumberOfItems(), 5u);
        Float32 x[5], y[5];
        for (size_t i = 0; i < 5; ++i) points.getItem(i + 1, x[i], y[i]);
        EXPECT_EQ(x[0], x[4]);  // closed
        EXPECT_EQ(y[0], y[4]);
        box = {-1, x[0], y[0], x[2], y[2], 0};
        break;
      }
      case DSRTypes::VT_Image: {
        const DSRImageReferenceValue* image = item.getImageReferencePtr();
        report.referenced_instance = image->getSOPInstanceUID().c_str();
        if (item.getRelationshipType() == DSRTypes::RT_selectedFrom &&
            !image->getFrameList().isEmpty())
          box.frame = image->getFrameList().getItem(1) - 1;
        break;
      }
      case DSRTypes::VT_Num:
        box.score = std::stod(item.getNumericValue().getNumericValue().c_str());
        report.boxes.push_back(box);
        break;
      case DSRTypes::VT_Code:
        if (item.getCodeValue().getCodeValue() == "373572006") report.says_no_finding = true;
        break;
      default:
        break;
    }
  } while (tree.iterate() != 0);
  return report;
}

// The COCO results of one input at or above the report threshold.
std::vector<Box> results_of(const nlohmann::json& dets, const std::string& file) {
  std::vector<Box> boxes;
  for (const auto& d : dets) {
    if (d["file_name"] != file || d["score"].get<double>() < kSrThr) continue;
    const auto& b = d["bbox"];
    boxes.push_back({d.value("frame", -1), b[0], b[1], b[0].get<double>() + b[2].get<double>(),
                     b[1].get<double>() + b[3].get<double>(), d["score"]});
  }
  return boxes;
}

bool tool_missing(const std::string& tool) { return run_command("command -v " + tool).status != 0; }

class PredictSr : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(MBMD_BINARY)) GTEST_FAIL() << MBMD_BINARY << " is missing: build mbmd first";
    root_ = fs::temp_directory_path() / ("mbmd_predict_sr_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    const auto ann = mbmd::testing::write_synthetic_set((root_ / "images").string(), 1, 64, 48);
    checkpoint_ = (root_ / "model.ckpt").string();
    mbmd::testing::write_untrained_checkpoint(checkpoint_, ann);
    const fs::path films = root_ / "inbreast/AllDICOMs";
    fs::create_directories(films);
    for (char film : {'A', 'B', 'C'})
      mbmd::test::write_dicom((films / (std::string("film") + film + ".dcm")).string(),
                              mbmd::test::inbreast_film_spec(film));
    fs::create_directories(root_ / "dbt");
    mbmd::test::write_dbt_volume((root_ / "dbt/left.dcm").string(), true,
                                 gdcm::TransferSyntax::ExplicitVRLittleEndian, "DBT-P00001");
    mbmd::test::write_dbt_volume((root_ / "dbt/right.dcm").string(), false,
                                 gdcm::TransferSyntax::JPEG2000Lossless, "DBT-P00002");
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string path(const std::string& name) const { return (root_ / name).string(); }

  ProgramRun predict(const std::string& out, const std::string& sr_dir, double sr_thr) {
    return run_mbmd("predict --checkpoint '" + checkpoint_ + "' '" + path("inbreast") + "' '" +
                    path("dbt") + "' --out '" + path(out) + "' --sr-out '" + path(sr_dir) +
                    "' --sr-thr " + std::to_string(sr_thr) + " --threads 1");
  }

  fs::path root_;
  std::string checkpoint_;
};

TEST_F(PredictSr, ReportsValidateAndHoldTheResultsBoxes) {
  if (tool_missing("dciodvfy") || tool_missing("dsrdump"))
    GTEST_SKIP() << "dciodvfy (dicom3tools) or dsrdump (dcmtk) is not installed; "
                    "scripts/install-deps.sh installs them";
  const ProgramRun r = predict("dets.json", "sr", kSrThr);
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream in(path("dets.json"));
  const auto dets = nlohmann::json::parse(in);
  std::set<int> volume_frames;
  for (const auto& d : dets)
    if (d.value("frame", -1) >= 0) volume_frames.insert(d["frame"].get<int>());
  EXPECT_EQ(volume_frames.size(), size_t{mbmd::test::kDbtFrames});  // volumes run frame by frame

  const std::vector<std::string> inputs = {
      "inbreast/AllDICOMs/filmA.dcm", "inbreast/AllDICOMs/filmB.dcm",
      "inbreast/AllDICOMs/filmC.dcm", "dbt/left.dcm", "dbt/right.dcm"};
  std::set<std::string> series;
  size_t boxes_read = 0;
  for (const auto& input : inputs) {
    const std::string source = path(input), stem = fs::path(input).stem().string();
    const std::string sr = path("sr/" + stem + ".sr.dcm");
    ASSERT_TRUE(fs::exists(sr)) << sr << "\n" << r.output;
    const ProgramRun check = run_command("dciodvfy '" + sr + "' 2>&1");
    EXPECT_EQ(check.output.find("Error"), std::string::npos) << sr << ":\n" << check.output;
    const ProgramRun dump = run_command("dsrdump '" + sr + "' 2>&1");
    EXPECT_EQ(dump.status, 0) << dump.output;
    EXPECT_NE(dump.output.find("Imaging Measurement Report"), std::string::npos) << dump.output;

    DcmFileFormat source_file;
    ASSERT_TRUE(source_file.loadFile(source.c_str()).good());
    DcmDataset& source_ds = *source_file.getDataset();
    const Report report = read_report(sr);
    EXPECT_EQ(report.study_uid, text_of(source_ds, DCM_StudyInstanceUID));
    EXPECT_NE(report.series_uid, text_of(source_ds, DCM_SeriesInstanceUID));
    EXPECT_EQ(report.referenced_instance, text_of(source_ds, DCM_SOPInstanceUID));
    series.insert(report.series_uid);

    const std::vector<Box> expected = results_of(dets, source);
    ASSERT_EQ(report.boxes.size(), expected.size()) << sr;
    for (size_t i = 0; i < expected.size(); ++i) {
      const Box &a = report.boxes[i], &e = expected[i];
      EXPECT_EQ(a.frame, e.frame) << sr << " box " << i;
      EXPECT_NEAR(a.x1, e.x1, 1e-3) << sr << " box " << i;
      EXPECT_NEAR(a.y1, e.y1, 1e-3);
      EXPECT_NEAR(a.x2, e.x2, 1e-3);
      EXPECT_NEAR(a.y2, e.y2, 1e-3);
      EXPECT_NEAR(a.score, e.score, 5e-5);
    }
    boxes_read += report.boxes.size();
  }
  EXPECT_GT(boxes_read, 0u);  // the untrained model scores about 0.5: there is something to read
  // Each fixture file is its own study: one new series per study of this run.
  EXPECT_EQ(series.size(), inputs.size());
}

// A film without a finding at the threshold still gets a report, and it says so.
TEST_F(PredictSr, NoFindingIsReported) {
  const ProgramRun r = predict("dets.json", "sr", 1.01);
  ASSERT_EQ(r.status, 0) << r.output;
  const Report report = read_report(path("sr/filmA.sr.dcm"));
  EXPECT_TRUE(report.boxes.empty());
  EXPECT_TRUE(report.says_no_finding);
}

}  // namespace
