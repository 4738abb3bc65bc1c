// The mini-MIAS reader on the whole public set (/work/shared/data/mini-mias, 322 PNG films), on
// the eight distributed PGM films, and on small folders written by the tests for bad input.
#include "mbmd/data/mias.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "data/expect_error.h"
#include "mbmd/core/error.h"
#include "mbmd/data/dataset.h"
#include "mbmd/data/png.h"
#include "mbmd_paths.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using namespace mbmd::data;

namespace {

const std::string kMias = std::string(MBMD_SHARED_DIR) + "/data/mini-mias";
const std::string kMiasPgm = std::string(MBMD_SHARED_DIR) + "/data/mini-mias-pgm";

// Each configuration is read once per test program (reading 322 headers takes a moment).
const Dataset& all_films() {
  static const Dataset dataset = [] {
    DatasetOptions options;
    options.root = kMias;
    return read_dataset("mias", options);
  }();
  return dataset;
}

const Dataset& masses_only() {
  static const Dataset dataset = [] {
    DatasetOptions options;
    options.root = kMias;
    options.masses_only = true;
    return read_mias(options);
  }();
  return dataset;
}

const Sample& find(const Dataset& dataset, const std::string& id) {
  for (const auto& s : dataset.samples)
    if (s.image_id == id) return s;
  throw std::runtime_error("no sample " + id);
}

bool has(const Dataset& dataset, const std::string& id) {
  for (const auto& s : dataset.samples)
    if (s.image_id == id) return true;
  return false;
}

std::vector<float> box(const Sample& s, int i) {
  const at::Tensor b = s.boxes[i].contiguous();
  return std::vector<float>(b.data_ptr<float>(), b.data_ptr<float>() + 4);
}

using mbmd::testing::expect_error;

TEST(Mias, AllFilmsMode) {
  const Dataset& d = all_films();
  const DatasetSummary summary = summarize(d);
  EXPECT_EQ(summary.images, 321);
  EXPECT_EQ(summary.boxes, 58);
  EXPECT_EQ(summary.patients, 161);
  EXPECT_EQ(summary.images_with_boxes, 55);
  EXPECT_EQ(summary.unlocated, 0);
  EXPECT_EQ(summary.skipped, 0);
  ASSERT_EQ(d.excluded.size(), 1u);
  EXPECT_EQ(d.excluded[0].item, "mdb059");
  EXPECT_FALSE(has(d, "mdb059"));
  EXPECT_EQ(d.categories, std::vector<std::string>{"mass"});

  const Sample& s = find(d, "mdb001");
  EXPECT_EQ(s.patient_id, find(d, "mdb002").patient_id);
  EXPECT_NE(s.patient_id, find(d, "mdb003").patient_id);
  EXPECT_EQ(s.width, 1024);
  EXPECT_EQ(s.height, 1024);
  EXPECT_EQ(s.bit_depth, 8);
  EXPECT_EQ(s.view, "MLO");
  EXPECT_FALSE(s.image.defined()) << "readers must not decode pixels";
  ASSERT_EQ(s.boxes.size(0), 1);
  EXPECT_EQ(box(s, 0), (std::vector<float>{338, 401, 732, 795}));
  EXPECT_EQ(s.labels[0].item<int64_t>(), 0);

  // Several rows per film; mdb144's upper mass touches the top edge (y = 1023 - 994 = 29, r = 29).
  EXPECT_EQ(find(d, "mdb005").boxes.size(0), 2);
  EXPECT_EQ(find(d, "mdb132").boxes.size(0), 2);
  EXPECT_EQ(box(find(d, "mdb144"), 0), (std::vector<float>{204, 0, 262, 58}));
  // *NOTE 3* rows are calcifications: not masses, so those films are kept, without boxes.
  for (const char* calc : {"mdb216", "mdb233", "mdb245"}) {
    EXPECT_EQ(find(d, calc).boxes.size(0), 0) << calc;
    EXPECT_FALSE(find(d, calc).lesion_without_location) << calc;
  }
  EXPECT_EQ(find(d, "mdb003").boxes.size(0), 0);
}

TEST(Mias, MassesOnlyModeIsThePapersSelection) {
  const DatasetSummary summary = summarize(masses_only());
  EXPECT_EQ(summary.images, 55);
  EXPECT_EQ(summary.patients, 53);
  EXPECT_EQ(summary.boxes, 58);
  for (const auto& s : masses_only().samples) EXPECT_GT(s.boxes.size(0), 0) << s.image_id;
}

TEST(Mias, OtherClassesAndUnlocatedLesions) {
  DatasetOptions options;
  options.root = kMias;
  options.keep_unlocated = true;
  const Dataset kept = read_mias(options);
  EXPECT_EQ(kept.samples.size(), 322u);
  EXPECT_TRUE(find(kept, "mdb059").lesion_without_location);
  EXPECT_EQ(summarize(kept).unlocated, 1);

  // Calcifications: the three *NOTE 3* films become lesions without location.
  options.keep_unlocated = false;
  options.classes = {"CALC"};
  const Dataset calc = read_mias(options);
  EXPECT_EQ(calc.categories, std::vector<std::string>{"CALC"});
  std::set<std::string> excluded;
  for (const auto& e : calc.excluded) excluded.insert(e.item);
  for (const char* id : {"mdb216", "mdb233", "mdb245"}) EXPECT_EQ(excluded.count(id), 1u) << id;
  EXPECT_TRUE(has(calc, "mdb059"));  // its CIRC row is not selected
  // 30 CALC rows; those with coordinates are boxes.
  EXPECT_EQ(summarize(calc).boxes + static_cast<int>(calc.excluded.size()), 30);

  options.classes = {"SPIC", "CIRC", "MISC"};
  options.separate_classes = true;
  options.masses_only = true;
  const Dataset separate = read_mias(options);
  EXPECT_EQ(separate.categories, (std::vector<std::string>{"SPIC", "CIRC", "MISC"}));
  EXPECT_EQ(find(separate, "mdb001").labels[0].item<int64_t>(), 1);  // CIRC
  EXPECT_EQ(find(separate, "mdb013").labels[0].item<int64_t>(), 2);  // MISC
  std::map<int64_t, int> per_label;
  for (const auto& s : separate.samples)
    for (int64_t i = 0; i < s.labels.numel(); ++i) ++per_label[s.labels[i].item<int64_t>()];
  // Info.txt: 19 SPIC, 25 CIRC (one without place), 15 MISC rows.
  EXPECT_EQ(per_label[0], 19);
  EXPECT_EQ(per_label[1], 24);
  EXPECT_EQ(per_label[2], 15);

  options.classes = {"NORM"};
  expect_error([&] { read_mias(options); }, {"NORM"});
  options.classes = {"circ"};
  expect_error([&] { read_mias(options); }, {"circ"});
}

TEST(Mias, DistributedPgmFilmsGiveTheSameBoxes) {
  DatasetOptions options;
  options.root = kMiasPgm;
  const Dataset pgm = read_mias(options);
  // mdb001 mdb002 mdb005 mdb059 mdb132 mdb144 mdb216 mdb322, mdb059 left out.
  ASSERT_EQ(pgm.samples.size(), 7u);
  int boxes = 0;
  for (const auto& s : pgm.samples) {
    EXPECT_EQ(fs::path(s.file).extension(), ".pgm");
    const Sample& png = find(all_films(), s.image_id);
    EXPECT_EQ(s.width, png.width);
    EXPECT_EQ(s.height, png.height);
    EXPECT_EQ(s.patient_id, png.patient_id);
    EXPECT_TRUE(s.boxes.equal(png.boxes)) << s.image_id;
    EXPECT_TRUE(s.labels.equal(png.labels)) << s.image_id;
    boxes += static_cast<int>(s.boxes.size(0));
  }
  EXPECT_EQ(boxes, 8);
  // Decoded pixels equal the PNG copy's.
  Sample a = find(pgm, "mdb005");
  Sample b = find(all_films(), "mdb005");
  load_sample_image(a);
  load_sample_image(b);
  EXPECT_EQ(a.image.sizes(), (at::IntArrayRef{1024, 1024}));
  EXPECT_TRUE(a.image.equal(b.image));
}

TEST(Mias, PatientsArePairsOfFilms) {
  EXPECT_EQ(mias_patient_id("mdb001"), "p001");
  EXPECT_EQ(mias_patient_id("mdb002"), "p001");
  EXPECT_EQ(mias_patient_id("mdb003"), "p002");
  EXPECT_EQ(mias_patient_id("mdb322"), "p161");
  expect_error([] { mias_patient_id("mdbX01"); }, {"mdbX01"});
}

TEST(Mias, BoxesUseTheBottomLeftOriginOfTheImageHeightAndAreClipped) {
  MiasRow row;
  row.refnum = "mdb100";
  row.x = 10;
  row.y = 5;
  row.radius = 8;
  // 40 wide, 20 high: centre row 19 - 5 = 14; clipped to the last column/row 39/19.
  EXPECT_EQ(mias_box(row, 40, 20), (std::vector<float>{2, 6, 18, 19}));
  row.x = 40;
  expect_error([&] { mias_box(row, 40, 20); }, {"mdb100", "outside", "40x20"});
}

class MiasFolder : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = mbmd::testing::fresh_test_dir("mbmd_mias_"); }
  void TearDown() override { fs::remove_all(dir_); }
  void info(const std::string& rows) {
    std::ofstream(dir_ / "Info.txt") << "Free text\nabout the data\n\n" << rows;
  }
  void film(const std::string& id, int width, int height) {
    write_png((dir_ / (id + ".png")).string(), at::zeros({height, width}), 8);
  }
  DatasetOptions options(bool skip_bad = false) const {
    DatasetOptions o;
    o.root = dir_.string();
    o.skip_bad = skip_bad;
    return o;
  }
  fs::path dir_;
};

TEST_F(MiasFolder, SmallFilmsUseTheirOwnHeight) {
  info("mdb001 G CIRC B 30 10 5\nmdb002 F NORM \r\nmdb003 G SPIC M 3 3 6\n");
  film("mdb001", 64, 48);
  film("mdb002", 64, 48);
  film("mdb003", 64, 48);
  const Dataset d = read_mias(options());
  ASSERT_EQ(d.samples.size(), 3u);
  EXPECT_EQ(box(d.samples[0], 0), (std::vector<float>{25, 32, 35, 42}));  // 47 - 10 = 37
  EXPECT_EQ(box(d.samples[2], 0), (std::vector<float>{0, 38, 9, 47}));    // clipped
  EXPECT_EQ(d.samples[1].boxes.size(0), 0);
}

TEST_F(MiasFolder, AnnotationForAMissingFile) {
  info("mdb001 G CIRC B 30 10 5\nmdb002 F NORM\n");
  film("mdb001", 64, 48);
  expect_error([&] { read_mias(options()); }, {"mdb002", "Info.txt:5", "mdb002.png"});
  const Dataset d = read_mias(options(true));
  EXPECT_EQ(d.samples.size(), 1u);
  ASSERT_EQ(d.skipped.size(), 1u);
  EXPECT_EQ(d.skipped[0].item, "mdb002");
}

TEST_F(MiasFolder, BoxOutsideTheImage) {
  info("mdb001 G CIRC B 535 425 197\nmdb002 F NORM\n");
  film("mdb001", 64, 48);
  film("mdb002", 64, 48);
  expect_error([&] { read_mias(options()); }, {"mdb001", "outside", "64x48"});
  const Dataset d = read_mias(options(true));
  ASSERT_EQ(d.samples.size(), 1u);
  EXPECT_EQ(d.samples[0].image_id, "mdb002");
  ASSERT_EQ(d.skipped.size(), 1u);
  EXPECT_EQ(d.skipped[0].item, "mdb001");
}

TEST_F(MiasFolder, MalformedRowsNameTheLine) {
  film("mdb001", 64, 48);
  film("mdb002", 64, 48);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"mdb001 G CIRC B 30 x 5\n", "'x'"},
      {"mdb001 Q CIRC B 30 10 5\n", "'Q'"},
      {"mdb001 G BLOB B 30 10 5\n", "BLOB"},
      {"mdb001 G CIRC X 30 10 5\n", "severity"},
      {"mdb001 G CIRC B 30 10\n", "6 fields"},
      {"mdb001 G CIRC B 30 10 0\n", "radius"},
      {"mdb1 G NORM\n", "mdb1"},
  };
  for (const auto& [row, problem] : cases) {
    info(row + "mdb002 F NORM\n");
    expect_error([&] { read_mias(options()); }, {"Info.txt:4", problem});
    const Dataset d = read_mias(options(true));
    EXPECT_EQ(d.samples.size(), 1u) << row;
    EXPECT_EQ(d.skipped.size(), 1u) << row;
  }
  fs::remove(dir_ / "Info.txt");
  expect_error([&] { read_mias(options()); }, {dir_.string(), "Info.txt"});
  expect_error([&] { read_dataset("nosuch", options()); }, {"nosuch", "mias"});
}

}  // namespace
