// COCO json in both directions: mini-MIAS converted and read back, a hand-written COCO file in
// another category order, and bad annotations.
#include "mbmd/data/coco.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "data/expect_error.h"
#include "mbmd/core/error.h"
#include "mbmd/data/mias.h"
#include "mbmd_paths.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using namespace mbmd::data;
using Json = nlohmann::json;

namespace {

const std::string kMias = std::string(MBMD_SHARED_DIR) + "/data/mini-mias";

using mbmd::testing::expect_error;

class Coco : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = mbmd::testing::fresh_test_dir("mbmd_coco_"); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write_json(const std::string& name, const Json& json) const {
    std::ofstream(path(name)) << json.dump();
  }
  fs::path dir_;
};

TEST_F(Coco, MiasRoundTrip) {
  DatasetOptions options;
  options.root = kMias;
  const Dataset mias = read_mias(options);
  write_coco(path("mias.json"), mias, {kMias});

  Json json;
  std::ifstream(path("mias.json")) >> json;
  ASSERT_EQ(json["images"].size(), 321u);
  ASSERT_EQ(json["annotations"].size(), 58u);
  ASSERT_EQ(json["categories"].size(), 1u);
  EXPECT_EQ(json["categories"][0]["name"], "mass");
  std::set<std::string> patients;
  for (const auto& image : json["images"]) patients.insert(image["patient_id"].get<std::string>());
  EXPECT_EQ(patients.size(), 161u);
  const Json& first = json["images"][0];
  EXPECT_EQ(first["image_name"], "mdb001");
  EXPECT_EQ(first["file_name"], "mdb001.png");
  EXPECT_EQ(first["width"], 1024);
  const Json& a = json["annotations"][0];
  EXPECT_EQ(a["image_id"], first["id"]);
  EXPECT_EQ(a["bbox"], Json::parse("[338, 401, 394, 394]"));
  EXPECT_EQ(a["area"], 394 * 394);
  EXPECT_EQ(a["iscrowd"], 0);
  EXPECT_EQ(a["category_id"], json["categories"][0]["id"]);

  const Dataset back = read_coco(path("mias.json"));
  EXPECT_EQ(back.categories, mias.categories);
  EXPECT_EQ(fs::path(back.root), fs::path(kMias).lexically_normal());
  ASSERT_EQ(back.samples.size(), mias.samples.size());
  for (std::size_t i = 0; i < mias.samples.size(); ++i) {
    const Sample& x = mias.samples[i];
    const Sample& y = back.samples[i];
    EXPECT_EQ(y.image_id, x.image_id);
    EXPECT_EQ(y.patient_id, x.patient_id);
    EXPECT_EQ(y.view, x.view);
    EXPECT_EQ(y.width, x.width);
    EXPECT_EQ(y.bit_depth, x.bit_depth);
    EXPECT_TRUE(fs::equivalent(y.file, x.file)) << y.file;
    EXPECT_TRUE(y.boxes.equal(x.boxes)) << x.image_id;
    EXPECT_TRUE(y.labels.equal(x.labels)) << x.image_id;
  }
}

TEST_F(Coco, ReadsAForeignFileInItsCategoryOrder) {
  write_json("foreign.json", Json::parse(R"({
    "images": [{"id": 10, "file_name": "a.png", "width": 100, "height": 50},
               {"id": 3, "file_name": "sub/b.png", "width": 80, "height": 80,
                "patient_id": "P7", "laterality": "L", "view": "CC"}],
    "annotations": [
      {"id": 1, "image_id": 10, "category_id": 7, "bbox": [10.5, 5, 20, 30], "iscrowd": 0},
      {"id": 2, "image_id": 10, "category_id": 2, "bbox": [0, 0, 100, 50]},
      {"id": 3, "image_id": 3, "category_id": 7, "bbox": [1, 2, 3, 4], "iscrowd": 1}],
    "categories": [{"id": 7, "name": "mass"}, {"id": 2, "name": "calcification"}]})"));
  const Dataset d = read_coco(path("foreign.json"));
  EXPECT_EQ(d.categories, (std::vector<std::string>{"mass", "calcification"}));
  ASSERT_EQ(d.samples.size(), 2u);
  const Sample& a = d.samples[0];
  EXPECT_EQ(a.image_id, "10");
  EXPECT_EQ(fs::path(a.file), dir_ / "a.png");
  ASSERT_EQ(a.boxes.size(0), 2);
  EXPECT_TRUE(
      a.boxes.equal(at::tensor({10.5f, 5.f, 30.5f, 35.f, 0.f, 0.f, 100.f, 50.f}).reshape({2, 4})));
  EXPECT_EQ(a.labels[0].item<int64_t>(), 0);
  EXPECT_EQ(a.labels[1].item<int64_t>(), 1);
  const Sample& b = d.samples[1];
  EXPECT_EQ(b.patient_id, "P7");
  EXPECT_EQ(b.laterality, "L");
  EXPECT_EQ(b.view, "CC");
  EXPECT_EQ(b.boxes.size(0), 0);  // the crowd annotation is left out and reported
  EXPECT_TRUE(d.skipped.empty());
  ASSERT_EQ(d.excluded.size(), 1u);
  EXPECT_NE(d.excluded[0].reason.find("iscrowd"), std::string::npos);

  // An explicit image root wins.
  CocoReadOptions options;
  options.image_root = "/data/x";
  EXPECT_EQ(read_coco(path("foreign.json"), options).samples[1].file, "/data/x/sub/b.png");
}

TEST_F(Coco, WritesFractionalBoxesAndFlags) {
  Dataset d;
  d.name = "test";
  d.categories = {"mass", "other"};
  Sample s;
  s.image_id = "s1";
  s.file = path("s1.png");
  s.width = 30;
  s.height = 20;
  s.frame = 4;
  s.slice_display = "bcsdbt";
  s.bit_depth = 12;
  s.lesion_without_location = true;
  s.boxes = at::tensor({1.5f, 2.f, 11.f, 4.25f}).reshape({1, 4});
  s.labels = at::tensor({int64_t{1}});
  d.samples.push_back(s);
  write_coco(path("out.json"), d);
  Json json;
  std::ifstream(path("out.json")) >> json;
  EXPECT_EQ(json["images"][0]["file_name"], path("s1.png"));  // no image root: absolute paths
  EXPECT_EQ(json["annotations"][0]["bbox"], Json::parse("[1.5, 2, 9.5, 2.25]"));
  EXPECT_DOUBLE_EQ(json["annotations"][0]["area"].get<double>(), 9.5 * 2.25);
  EXPECT_EQ(json["annotations"][0]["category_id"], 2);
  const Dataset back = read_coco(path("out.json"));
  EXPECT_EQ(back.samples[0].frame, 4);
  EXPECT_EQ(back.samples[0].bit_depth, 12);
  EXPECT_TRUE(back.samples[0].lesion_without_location);
  EXPECT_TRUE(back.samples[0].boxes.equal(s.boxes));
  EXPECT_EQ(back.samples[0].labels[0].item<int64_t>(), 1);
  EXPECT_EQ(back.samples[0].slice_display, "bcsdbt");
  // A slice shown with the file's own LUTs stays so; files from before "slice_display" held
  // BCS-DBT slices only.
  json["images"][0]["slice_display"] = "";
  write_json("own_luts.json", json);
  EXPECT_EQ(read_coco(path("own_luts.json")).samples[0].slice_display, "");
  json["images"][0].erase("slice_display");
  write_json("older.json", json);
  EXPECT_EQ(read_coco(path("older.json")).samples[0].slice_display, "bcsdbt");

  d.samples[0].labels = at::tensor({int64_t{2}});
  expect_error([&] { write_coco(path("bad.json"), d); }, {"s1", "label 2"});
}

TEST_F(Coco, BadFilesAndAnnotations) {
  std::ofstream(path("broken.json")) << "{\"images\": [";
  expect_error([&] { read_coco(path("broken.json")); }, {path("broken.json"), "not valid JSON"});
  write_json("nocat.json", Json::parse(R"({"images": []})"));
  expect_error([&] { read_coco(path("nocat.json")); }, {path("nocat.json"), "categories"});
  expect_error([&] { read_coco(path("absent.json")); }, {path("absent.json"), "cannot be opened"});

  const Json base = Json::parse(R"({
    "images": [{"id": 1, "file_name": "a.png", "width": 100, "height": 50}],
    "categories": [{"id": 1, "name": "mass"}]})");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"id": 1, "image_id": 9, "category_id": 1, "bbox": [0, 0, 1, 1]})", "image_id 9"},
      {R"({"id": 1, "image_id": 1, "category_id": 5, "bbox": [0, 0, 1, 1]})", "category_id 5"},
      {R"({"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1]})", "bbox"},
      {R"({"id": 1, "image_id": 1, "category_id": 1, "bbox": [90, 0, 20, 10]})", "outside"},
      {R"({"id": 1, "image_id": 1, "category_id": 1, "bbox": [5, 5, -1, 10]})", "negative"},
      {R"({"id": 1, "image_id": 1, "category_id": 1})", "missing key 'bbox'"},
  };
  for (const auto& [annotation, problem] : cases) {
    Json json = base;
    json["annotations"] = Json::array({Json::parse(annotation)});
    write_json("case.json", json);
    expect_error([&] { read_coco(path("case.json")); },
                 {path("case.json"), "annotations[0]", problem});
    CocoReadOptions skip;
    skip.skip_bad = true;
    const Dataset d = read_coco(path("case.json"), skip);
    EXPECT_EQ(d.skipped.size(), 1u) << problem;
    EXPECT_EQ(d.samples.size(), 1u) << problem;
  }
}

}  // namespace
