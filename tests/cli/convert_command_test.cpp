// `mbmd convert` end to end: the program on the whole mini-MIAS set and on the distributed PGM
// films, its COCO output read back, the PNGs it writes, and its errors.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "cli/run_mbmd.h"
#include "mbmd/data/coco.h"
#include "mbmd/data/mias.h"
#include "mbmd/data/png.h"
#include "mbmd_paths.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

const std::string kMias = std::string(MBMD_SHARED_DIR) + "/data/mini-mias";
const std::string kMiasPgm = std::string(MBMD_SHARED_DIR) + "/data/mini-mias-pgm";

using mbmd::testing::ProgramRun;
using mbmd::testing::run_mbmd;

Json read_json(const fs::path& path) {
  std::ifstream in(path);
  return Json::parse(in);
}

class ConvertCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(MBMD_BINARY))
      GTEST_FAIL() << MBMD_BINARY << " is missing: build the mbmd target first";
    dir_ = mbmd::testing::fresh_test_dir("mbmd_convert_");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(ConvertCommand, MiasAllFilms) {
  const ProgramRun r =
      run_mbmd("convert mias --root '" + kMias + "' --out '" + path("mias.json") + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("321 images"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("58 boxes"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("161 patients"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("left out mdb059"), std::string::npos) << r.output;

  const Json json = read_json(path("mias.json"));
  ASSERT_EQ(json["images"].size(), 321u);
  EXPECT_EQ(json["annotations"].size(), 58u);
  std::set<std::string> patients, names;
  for (const auto& image : json["images"]) {
    patients.insert(image["patient_id"].get<std::string>());
    names.insert(image["image_name"].get<std::string>());
  }
  EXPECT_EQ(patients.size(), 161u);
  EXPECT_EQ(names.count("mdb059"), 0u);
  long long mdb001 = -1;
  for (const auto& image : json["images"])
    if (image["image_name"] == "mdb001") mdb001 = image["id"].get<long long>();
  int boxes_of_mdb001 = 0;
  for (const auto& a : json["annotations"]) {
    if (a["image_id"] != mdb001) continue;
    ++boxes_of_mdb001;
    EXPECT_EQ(a["bbox"], Json::parse("[338, 401, 394, 394]"));
  }
  EXPECT_EQ(boxes_of_mdb001, 1);

  // Read back: the same ids, patients and boxes as the reader gives.
  mbmd::data::DatasetOptions options;
  options.root = kMias;
  const auto direct = mbmd::data::read_mias(options);
  const auto back = mbmd::data::read_coco(path("mias.json"));
  ASSERT_EQ(back.samples.size(), direct.samples.size());
  for (std::size_t i = 0; i < back.samples.size(); ++i) {
    EXPECT_EQ(back.samples[i].image_id, direct.samples[i].image_id);
    EXPECT_EQ(back.samples[i].patient_id, direct.samples[i].patient_id);
    EXPECT_TRUE(back.samples[i].boxes.equal(direct.samples[i].boxes));
    EXPECT_TRUE(fs::equivalent(back.samples[i].file, direct.samples[i].file));
  }
}

TEST_F(ConvertCommand, MiasMassesOnly) {
  const ProgramRun r =
      run_mbmd("convert mias --masses-only --root '" + kMias + "' --out '" + path("m.json") + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  const Json json = read_json(path("m.json"));
  EXPECT_EQ(json["images"].size(), 55u);
  EXPECT_EQ(json["annotations"].size(), 58u);
  std::set<std::string> patients;
  for (const auto& image : json["images"]) patients.insert(image["patient_id"].get<std::string>());
  EXPECT_EQ(patients.size(), 53u);
}

TEST_F(ConvertCommand, PgmFilmsToPngs) {
  for (const int bits : {8, 16}) {
    const std::string out = path("png" + std::to_string(bits));
    const ProgramRun r =
        run_mbmd("convert mias --root '" + kMiasPgm + "' --out '" + out + ".json' --images-out '" +
                 out + "' --bits " + std::to_string(bits));
    ASSERT_EQ(r.status, 0) << r.output;
    const auto back = mbmd::data::read_coco(out + ".json");
    ASSERT_EQ(back.samples.size(), 7u);
    for (const auto& s : back.samples) {
      EXPECT_EQ(fs::path(s.file).parent_path(), fs::path(out));
      EXPECT_EQ(s.bit_depth, bits);
    }
    const Json json = read_json(out + ".json");
    EXPECT_EQ(json["images"][0]["file_name"], "mdb001.png");
    const auto png = mbmd::data::read_png(out + "/mdb005.png");
    EXPECT_EQ(png.info.bit_depth, bits);
    const auto pgm = mbmd::data::read_image(kMiasPgm + "/mdb005.pgm");
    EXPECT_TRUE(png.pixels.equal(bits == 8 ? pgm.pixels : pgm.pixels * 257)) << bits;
  }
}

TEST_F(ConvertCommand, ErrorsAndSkippedItems) {
  ProgramRun r = run_mbmd("convert mias --out '" + path("x.json") + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--root"), std::string::npos) << r.output;
  r = run_mbmd("convert nosuch --root '" + kMias + "' --out '" + path("x.json") + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("unknown dataset 'nosuch'"), std::string::npos) << r.output;
  r = run_mbmd("convert mias --root '" + kMiasPgm + "' --out '" + path("x.json") + "' --bits 12");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--bits"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(path("x.json")));

  // A folder whose Info.txt annotates a film that is not there.
  fs::create_directories(path("broken"));
  std::ofstream(path("broken/Info.txt")) << "text\nmdb001 G CIRC B 10 10 5\nmdb002 F NORM\n";
  fs::copy_file(kMias + "/mdb001.png", path("broken/mdb001.png"));
  r = run_mbmd("convert mias --root '" + path("broken") + "' --out '" + path("b.json") + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("mdb002"), std::string::npos) << r.output;
  r = run_mbmd("convert mias --skip-bad --root '" + path("broken") + "' --out '" + path("b.json") +
               "'");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("1 skipped"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("skipped mdb002"), std::string::npos) << r.output;
  EXPECT_EQ(read_json(path("b.json"))["images"].size(), 1u);
}

}  // namespace
