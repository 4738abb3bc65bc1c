// BCS-DBT reader on a dataset folder written in the TCIA layout: the three CSVs and GDCM-written
// breast tomosynthesis volumes (multi-frame, window in the shared functional groups; plain,
// JPEG 2000 and JPEG-LS), checking samples, boxes, labels, patients and the reference reader's
// laterality flip and window on the loaded slices.
#include "mbmd/data/bcsdbt.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "dicom_fixtures.h"
#include "mbmd/core/error.h"
#include "mbmd/data/dataset.h"
#include "mbmd/data/dicom.h"

namespace mbmd::data {
namespace {

using test::TempDir;

std::string descriptive(const std::string& patient, const std::string& study, int series) {
  return "Breast-Cancer-Screening-DBT/" + patient + "/01-01-2000-" + study +
         "-MAMMO screening digital bilateral-" + std::to_string(10000 + series) + "/1.000000-NA-" +
         std::to_string(20000 + series) + "/1-1.dcm";
}

std::string classic(const std::string& patient, int series) {
  return "Breast-Cancer-Screening-DBT/" + patient + "/1.2.826.0.1.3680043.8.498." +
         std::to_string(series) + "/1.2.826.0.1.3680043.8.499." + std::to_string(series) +
         "/1-1.dcm";
}

const char* kBoxesHeader =
    "PatientID,StudyUID,View,Subject,Slice,X,Y,Width,Height,Class,AD,VolumeSlices\n";

// Five volumes: P1 lcc (two boxes, breast on the wrong side: flipped), P1 rcc (normal, JPEG 2000),
// P2 lmlo (normal, JPEG-LS, only the classic path exists), P3 rmlo (actionable only), P4 rcc
// (cancer without a box).
void write_bcsdbt(const TempDir& dir, const std::string& boxes_rows = "") {
  const std::string root = dir.str() + "/";
  test::write_dbt_volume(root + descriptive("DBT-P00001", "DBT-S00001", 1), false,
                         gdcm::TransferSyntax::ExplicitVRLittleEndian, "DBT-P00001");
  test::write_dbt_volume(root + descriptive("DBT-P00001", "DBT-S00001", 2), false,
                         gdcm::TransferSyntax::JPEG2000Lossless, "DBT-P00001");
  test::write_dbt_volume(root + classic("DBT-P00002", 3), true,
                         gdcm::TransferSyntax::JPEGLSLossless, "DBT-P00002");
  test::write_dbt_volume(root + descriptive("DBT-P00003", "DBT-S00003", 4), true,
                         gdcm::TransferSyntax::ExplicitVRLittleEndian, "DBT-P00003");
  test::write_dbt_volume(root + descriptive("DBT-P00004", "DBT-S00004", 5), true,
                         gdcm::TransferSyntax::ExplicitVRLittleEndian, "DBT-P00004");
  std::string paths = "PatientID,StudyUID,View,descriptive_path,classic_path\n";
  paths += "DBT-P00001,DBT-S00001,lcc," + descriptive("DBT-P00001", "DBT-S00001", 1) + "," +
           classic("DBT-P00001", 1) + "\n";
  paths += "DBT-P00001,DBT-S00001,rcc,\"" + descriptive("DBT-P00001", "DBT-S00001", 2) + "\"," +
           classic("DBT-P00001", 2) + "\n";
  paths += "DBT-P00002,DBT-S00002,lmlo," + descriptive("DBT-P00002", "DBT-S00002", 3) + "," +
           classic("DBT-P00002", 3) + "\n";
  paths += "DBT-P00003,DBT-S00003,rmlo," + descriptive("DBT-P00003", "DBT-S00003", 4) + "," +
           classic("DBT-P00003", 4) + "\n";
  paths += "DBT-P00004,DBT-S00004,rcc," + descriptive("DBT-P00004", "DBT-S00004", 5) + "," +
           classic("DBT-P00004", 5) + "\n";
  test::write_text(dir / "BCS-DBT file-paths-train-v2.csv", paths);
  test::write_text(dir / "BCS-DBT labels-train-v2.csv",
                   "PatientID,StudyUID,View,Normal,Actionable,Benign,Cancer\n"
                   "DBT-P00001,DBT-S00001,lcc,0,0,1,1\n"
                   "DBT-P00001,DBT-S00001,rcc,1,0,0,0\n"
                   "DBT-P00002,DBT-S00002,lmlo,1,0,0,0\n"
                   "DBT-P00003,DBT-S00003,rmlo,0,1,0,0\n"
                   "DBT-P00004,DBT-S00004,rcc,0,0,0,1\n");
  test::write_text(dir / "BCS-DBT boxes-train-v2.csv",
                   boxes_rows.empty() ? std::string(kBoxesHeader) +
                                            "DBT-P00001,DBT-S00001,lcc,0,2,10,5,20,15,benign,0,5\n"
                                            "DBT-P00001,DBT-S00001,lcc,1,3,30,20,10,10,cancer,1,5\n"
                                      : boxes_rows);
}

std::map<std::string, const Sample*> by_id(const Dataset& ds) {
  std::map<std::string, const Sample*> out;
  for (const auto& s : ds.samples) out[s.image_id] = &s;
  return out;
}

std::vector<float> boxes_of(const Sample& s) {
  at::Tensor b = s.boxes.contiguous();
  return std::vector<float>(b.data_ptr<float>(), b.data_ptr<float>() + b.numel());
}

std::vector<int64_t> labels_of(const Sample& s) {
  at::Tensor l = s.labels.contiguous();
  return std::vector<int64_t>(l.data_ptr<int64_t>(), l.data_ptr<int64_t>() + l.numel());
}

DatasetOptions options_for(const TempDir& dir) {
  DatasetOptions o;
  o.root = dir.str();
  return o;
}

TEST(BcsDbt, SlicesBoxesLabelsAndPatients) {
  TempDir dir;
  write_bcsdbt(dir);
  const Dataset ds = read_bcsdbt(options_for(dir));
  EXPECT_EQ(ds.name, "bcsdbt");
  EXPECT_EQ(ds.categories, std::vector<std::string>{"mass"});
  EXPECT_TRUE(ds.skipped.empty());
  ASSERT_EQ(ds.samples.size(), 4u);
  auto s = by_id(ds);
  ASSERT_TRUE(s.count("DBT-P00001_DBT-S00001_lcc_2"));
  ASSERT_TRUE(s.count("DBT-P00001_DBT-S00001_lcc_3"));
  ASSERT_TRUE(s.count("DBT-P00001_DBT-S00001_rcc_2"));  // normal: the central slice
  ASSERT_TRUE(s.count("DBT-P00002_DBT-S00002_lmlo_2"));
  const Sample& a = *s["DBT-P00001_DBT-S00001_lcc_2"];
  EXPECT_EQ(a.patient_id, "DBT-P00001");
  EXPECT_EQ(a.laterality, "L");
  EXPECT_EQ(a.view, "CC");
  EXPECT_EQ(a.frame, 2);
  EXPECT_EQ(a.width, test::kDbtCols);
  EXPECT_EQ(a.height, test::kDbtRows);
  EXPECT_EQ(a.bit_depth, 12);
  EXPECT_EQ(boxes_of(a), (std::vector<float>{10, 5, 30, 20}));
  EXPECT_EQ(labels_of(a), (std::vector<int64_t>{0}));
  EXPECT_EQ(boxes_of(*s["DBT-P00001_DBT-S00001_lcc_3"]), (std::vector<float>{30, 20, 40, 30}));
  EXPECT_EQ(s["DBT-P00001_DBT-S00001_rcc_2"]->boxes.size(0), 0);
  const Sample& m = *s["DBT-P00002_DBT-S00002_lmlo_2"];
  EXPECT_EQ(m.view, "MLO");
  EXPECT_NE(m.file.find("1.2.826.0.1.3680043.8.498.3"), std::string::npos);  // classic path
  // Actionable-only and box-less cancer volumes are left out, with the reason.
  ASSERT_EQ(ds.excluded.size(), 2u);
  EXPECT_EQ(ds.excluded[0].item, "DBT-P00003_DBT-S00003_rmlo");
  EXPECT_NE(ds.excluded[0].reason.find("actionable"), std::string::npos);
  EXPECT_EQ(ds.excluded[1].item, "DBT-P00004_DBT-S00004_rcc");
  EXPECT_EQ(summarize(ds).patients, 2);

  DatasetOptions o = options_for(dir);
  o.separate_classes = true;
  const Dataset separate = read_bcsdbt(o);
  EXPECT_EQ(separate.categories, (std::vector<std::string>{"benign", "cancer"}));
  EXPECT_EQ(labels_of(*by_id(separate)["DBT-P00001_DBT-S00001_lcc_3"]), (std::vector<int64_t>{1}));

  o = options_for(dir);
  o.keep_unlocated = true;
  o.masses_only = true;
  const Dataset kept = read_bcsdbt(o);
  auto k = by_id(kept);
  EXPECT_EQ(kept.samples.size(), 3u);
  ASSERT_TRUE(k.count("DBT-P00004_DBT-S00004_rcc_2"));
  EXPECT_TRUE(k["DBT-P00004_DBT-S00004_rcc_2"]->lesion_without_location);
}

TEST(BcsDbt, NeighbouringSlicesNormalSlicesAndDistortions) {
  TempDir dir;
  write_bcsdbt(dir);
  DatasetOptions o = options_for(dir);
  o.extra = {{"neighbour_slices", "1"}, {"normal_slices", "3"}};
  const Dataset ds = read_bcsdbt(o);
  auto s = by_id(ds);
  // lcc: boxes centred on slices 2 and 3 -> slices 1..4; each slice holds the boxes within 1.
  EXPECT_EQ(boxes_of(*s.at("DBT-P00001_DBT-S00001_lcc_1")), (std::vector<float>{10, 5, 30, 20}));
  EXPECT_EQ(boxes_of(*s.at("DBT-P00001_DBT-S00001_lcc_2")),
            (std::vector<float>{10, 5, 30, 20, 30, 20, 40, 30}));
  EXPECT_EQ(s.at("DBT-P00001_DBT-S00001_lcc_3")->boxes.size(0), 2);
  EXPECT_EQ(boxes_of(*s.at("DBT-P00001_DBT-S00001_lcc_4")), (std::vector<float>{30, 20, 40, 30}));
  EXPECT_FALSE(s.count("DBT-P00001_DBT-S00001_lcc_0"));
  for (const char* id : {"DBT-P00001_DBT-S00001_rcc_0", "DBT-P00001_DBT-S00001_rcc_2",
                         "DBT-P00001_DBT-S00001_rcc_4", "DBT-P00002_DBT-S00002_lmlo_0"})
    EXPECT_TRUE(s.count(id)) << id;
  EXPECT_EQ(ds.samples.size(), 4u + 3u + 3u);

  o.extra = {{"normal_slices", "all"}, {"distortions", "drop"}};
  const Dataset all = read_bcsdbt(o);
  auto a = by_id(all);
  EXPECT_TRUE(a.count("DBT-P00001_DBT-S00001_lcc_2"));
  EXPECT_FALSE(a.count("DBT-P00001_DBT-S00001_lcc_3"));  // only a distortion there
  EXPECT_EQ(all.samples.size(), 1u + 5u + 5u);

  o.extra = {{"normal_slices", "0"}};
  EXPECT_EQ(read_bcsdbt(o).samples.size(), 2u);
  o.extra = {{"neighbour_slice", "1"}};
  EXPECT_THROW(read_bcsdbt(o), Error);
  o.extra = {{"subset", "test"}};
  EXPECT_THROW(read_bcsdbt(o), Error);  // no test part in this folder
}

double window_exact(double x) {
  return std::min(255.0, std::max(0.0, ((x - test::kDbtCenter) / test::kDbtWidth + 0.5) * 255.0));
}

TEST(BcsDbt, SlicesLoadFlippedAndWindowedAsTheReferenceReader) {
  TempDir dir;
  write_bcsdbt(dir);
  DatasetOptions o = options_for(dir);
  const Dataset ds = read_bcsdbt(o);
  auto s = by_id(ds);
  struct Case {
    const char* id;
    bool breast_left;  // where the signal is in the stored volume
    bool flipped;      // the view says the other side
  };
  for (const Case& c : {Case{"DBT-P00001_DBT-S00001_lcc_2", false, true},
                        Case{"DBT-P00001_DBT-S00001_rcc_2", false, false},
                        Case{"DBT-P00002_DBT-S00002_lmlo_2", true, false}}) {
    Sample sample = *s.at(c.id);
    load_dicom_sample(sample);
    ASSERT_EQ(sample.image.dim(), 2) << c.id;
    ASSERT_EQ(sample.image.size(0), test::kDbtRows);
    ASSERT_EQ(sample.image.size(1), test::kDbtCols);
    const at::Tensor img = sample.image.contiguous();
    const float* p = img.data_ptr<float>();
    int bad = 0;
    for (int y = 0; y < test::kDbtRows; ++y)
      for (int x = 0; x < test::kDbtCols; ++x) {
        const int sy = c.flipped ? test::kDbtRows - 1 - y : y,
                  sx = c.flipped ? test::kDbtCols - 1 - x : x;
        const double e = window_exact(test::dbt_voxel(sample.frame, sy, sx, c.breast_left));
        bad += std::abs(p[y * test::kDbtCols + x] - e) > 1e-3;
      }
    EXPECT_EQ(bad, 0) << c.id;
  }
  // Through the dataset table, as `mbmd convert bcsdbt` reads and loads it.
  const Dataset named = read_dataset("bcsdbt", o);
  ASSERT_EQ(named.samples.size(), ds.samples.size());
  Sample via_table = *by_id(named).at("DBT-P00001_DBT-S00001_lcc_2");
  load_sample_image(via_table);
  EXPECT_TRUE(at::equal(via_table.image, load_bcsdbt_slice(via_table.file, 2, "L")));
  EXPECT_FALSE(at::equal(via_table.image, load_bcsdbt_slice(via_table.file, 2, "R")));
  EXPECT_EQ(bcsdbt_image_laterality(at::tensor({1.f, 2.f, 3.f, 1.f, 2.f, 3.f}).view({2, 3})), "R");
  EXPECT_EQ(bcsdbt_image_laterality(at::tensor({3.f, 2.f, 3.f, 1.f, 2.f, 1.f}).view({2, 3})), "L");
  EXPECT_EQ(bcsdbt_image_laterality(at::ones({2, 3})), "L");  // ties: "L", as the reference
}

void expect_error(const DatasetOptions& o, const std::vector<std::string>& parts) {
  try {
    read_bcsdbt(o);
    FAIL() << "no error";
  } catch (const Error& e) {
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(BcsDbt, BadInputNamesTheFileAndCanBeSkipped) {
  TempDir dir;
  write_bcsdbt(dir);
  const std::string boxes = dir / "BCS-DBT boxes-train-v2.csv";
  DatasetOptions o = options_for(dir);

  test::write_text(boxes,
                   "PatientID,StudyUID,View,Subject,Slice,X,Y,Width,Height,Class,AD\n"
                   "DBT-P00001,DBT-S00001,lcc,0,2,10,5,20,15,benign,0\n");
  expect_error(o, {boxes, "column 'VolumeSlices' is missing"});

  test::write_text(
      boxes, std::string(kBoxesHeader) + "DBT-P00001,DBT-S00001,lcc,0,2,50,5,20,15,benign,0,5\n");
  expect_error(o, {boxes + ":2", "outside the 64x48"});

  test::write_text(
      boxes, std::string(kBoxesHeader) + "DBT-P00001,DBT-S00001,lcc,0,7,10,5,20,15,benign,0,8\n");
  expect_error(o, {boxes + ":2", "slice 7 outside the 5 slices"});

  test::write_text(
      boxes, std::string(kBoxesHeader) + "DBT-P00009,DBT-S00009,lcc,0,2,10,5,20,15,benign,0,5\n");
  expect_error(o, {boxes + ":2", "DBT-P00009", "not in BCS-DBT file-paths-train-v2.csv"});

  test::write_text(
      boxes, std::string(kBoxesHeader) + "DBT-P00001,DBT-S00001,lcc,0,two,10,5,20,15,benign,0,5\n");
  expect_error(o, {boxes + ":2", "Slice", "not an integer"});

  // A listed volume whose file is missing; skip_bad leaves it out and reports it.
  write_bcsdbt(dir);
  std::filesystem::remove(dir / descriptive("DBT-P00001", "DBT-S00001", 2));
  expect_error(
      o, {"DBT-P00001_DBT-S00001_rcc", "not found", descriptive("DBT-P00001", "DBT-S00001", 2)});
  o.skip_bad = true;
  const Dataset partial = read_bcsdbt(o);
  EXPECT_EQ(partial.samples.size(), 3u);
  ASSERT_EQ(partial.skipped.size(), 1u);
  EXPECT_NE(partial.skipped[0].reason.find("not found"), std::string::npos);
  o.skip_bad = false;

  // A volume without pixel data.
  test::write_dicom_without_pixels(dir / descriptive("DBT-P00001", "DBT-S00001", 2));
  expect_error(o, {descriptive("DBT-P00001", "DBT-S00001", 2), "no pixel data"});

  std::filesystem::remove(dir / "BCS-DBT labels-train-v2.csv");
  expect_error(o, {"BCS-DBT labels-train-v2.csv", "missing"});
}

TEST(BcsDbt, CsvReader) {
  TempDir dir;
  test::write_text(dir / "t.csv",
                   "\xEF\xBB\xBF"
                   "a, b ,c\r\n1,\"x, \"\"y\"\"\",3\r\n\r\n4,5,6,\n");
  const CsvTable t = read_csv(dir / "t.csv", ',', {"a", "b"});
  EXPECT_EQ(t.header, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0][1], "x, \"y\"");
  EXPECT_EQ(t.rows[1][2], "6");
  EXPECT_EQ(t.lines[1], 4);
  EXPECT_EQ(t.column("c"), 2u);
  EXPECT_THROW(t.column("d"), Error);
  EXPECT_THROW(read_csv(dir / "t.csv", ',', {"a", "z"}), Error);
  test::write_text(dir / "short.csv", "a,b,c\n1,2\n");
  EXPECT_THROW(read_csv(dir / "short.csv", ','), Error);
  EXPECT_THROW(read_csv(dir / "absent.csv", ','), Error);
}

}  // namespace
}  // namespace mbmd::data
