// The COCO readers: what they make of good files and what they say about bad ones.
#include "mbmd/eval/coco_io.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "mbmd/core/error.h"

namespace mbmd::engine {
namespace {

using nlohmann::json;

json good_gt() {
  return json::parse(R"({
    "images": [{"id": 10}, {"id": 9}, {"id": 100}],
    "annotations": [
      {"id": 1, "image_id": 9, "category_id": 1, "bbox": [1, 2, 3, 4], "area": 50, "iscrowd": 1},
      {"id": 2, "image_id": 100, "category_id": 1, "bbox": [0.5, 0, 10, 20]}],
    "categories": [{"id": 1, "name": "mass"}, {"id": 2, "name": "calcification"}]})");
}

// Expects `f` to throw mbmd::Error whose message holds every one of `parts`.
template <typename F>
void expect_error(F f, std::vector<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    for (const auto& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "'" << e.what() << "' lacks '" << part << "'";
  }
}

TEST(CocoIo, GroundTruth) {
  const EvalSet set = parse_coco_ground_truth(good_gt(), "gt.json");
  // Images sorted numerically, as pycocotools sorts its integer ids.
  EXPECT_EQ(set.image_ids, (std::vector<std::string>{"9", "10", "100"}));
  EXPECT_EQ(set.categories, (std::vector<int64_t>{1, 2}));
  ASSERT_EQ(set.ground_truths.size(), 2u);
  EXPECT_EQ(set.ground_truths[0].box, (Box{1, 2, 4, 6}));
  EXPECT_EQ(set.ground_truths[0].area, 50);
  EXPECT_TRUE(set.ground_truths[0].iscrowd);
  EXPECT_EQ(set.ground_truths[1].box, (Box{0.5, 0, 10.5, 20}));
  EXPECT_EQ(set.ground_truths[1].area, 200);  // w * h when `area` is absent
  EXPECT_FALSE(set.ground_truths[1].iscrowd);
}

TEST(CocoIo, StringImageIdsSortAsText) {
  const json doc =
      json::parse(R"({"images": [{"id": "b"}, {"id": "a"}], "annotations": [], "categories": []})");
  EXPECT_EQ(parse_coco_ground_truth(doc, "gt").image_ids, (std::vector<std::string>{"a", "b"}));
}

TEST(CocoIo, Results) {
  const EvalSet gt = parse_coco_ground_truth(good_gt(), "gt.json");
  const auto dets = parse_coco_results(
      json::parse(R"([{"image_id": 10, "category_id": 2, "bbox": [1, 1, 2, 2], "score": 0.25}])"),
      gt, "dets.json");
  ASSERT_EQ(dets.size(), 1u);
  EXPECT_EQ(dets[0].image_id, "10");
  EXPECT_EQ(dets[0].category, 2);
  EXPECT_EQ(dets[0].box, (Box{1, 1, 3, 3}));
  EXPECT_EQ(dets[0].score, 0.25);
  EXPECT_TRUE(parse_coco_results(json::array(), gt, "dets.json").empty());
}

TEST(CocoIo, BadGroundTruth) {
  auto with = [](const std::function<void(json&)>& change) {
    json doc = good_gt();
    change(doc);
    return [doc] { parse_coco_ground_truth(doc, "gt.json"); };
  };
  expect_error(with([](json& d) { d.erase("images"); }), {"gt.json", "missing key 'images'"});
  expect_error(with([](json& d) { d["annotations"] = 3; }), {"gt.json", "'annotations'", "list"});
  expect_error(with([](json& d) { d["annotations"][1].erase("bbox"); }),
               {"gt.json", "annotations[1]", "missing key 'bbox'"});
  expect_error(with([](json& d) {
                 d["annotations"][0]["bbox"] = {1, 2, 3};
               }),
               {"annotations[0]", "bbox must be [x, y, w, h]"});
  expect_error(with([](json& d) {
                 d["annotations"][0]["bbox"] = {1, 2, -3, 4};
               }),
               {"annotations[0]", "negative width"});
  expect_error(with([](json& d) {
                 d["annotations"][0]["bbox"] = {1, 2, "3", 4};
               }),
               {"annotations[0]", "four finite numbers"});
  expect_error(with([](json& d) { d["annotations"][0]["image_id"] = 7; }),
               {"annotations[0]", "image_id 7 is not in 'images'"});
  expect_error(with([](json& d) { d["annotations"][0]["category_id"] = 5; }),
               {"annotations[0]", "category_id 5 is not in 'categories'"});
  expect_error(with([](json& d) { d["annotations"][0]["iscrowd"] = 2; }), {"iscrowd"});
  expect_error(with([](json& d) { d["annotations"][0]["area"] = -1; }), {"area"});
  expect_error(with([](json& d) { d["images"][1]["id"] = 10; }), {"images[1]", "repeats"});
  expect_error(with([](json& d) { d["images"][1]["id"] = "x"; }), {"mix integers and strings"});
  expect_error(with([](json& d) { d["images"][1]["id"] = 1.5; }), {"images[1].id", "1.5"});
}

TEST(CocoIo, BadResults) {
  const EvalSet gt = parse_coco_ground_truth(good_gt(), "gt.json");
  auto parse = [&](const char* text) {
    return [&gt, text] { parse_coco_results(json::parse(text), gt, "dets.json"); };
  };
  expect_error(parse(R"({"image_id": 9})"), {"dets.json", "must be a list"});
  expect_error(parse(R"([{"image_id": 9, "category_id": 1, "bbox": [0, 0, 1, 1]}])"),
               {"dets.json: [0]", "missing key 'score'"});
  expect_error(parse(R"([{"image_id": 8, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}])"),
               {"dets.json: [0]", "image_id 8 is not an image of the ground truth"});
  expect_error(parse(R"([{"image_id": 9, "category_id": 3, "bbox": [0, 0, 1, 1], "score": 1}])"),
               {"category_id 3 is not a category of the ground truth"});
  expect_error(parse(R"([{"image_id": 9, "category_id": 1, "bbox": [0, 0, 1], "score": 1}])"),
               {"bbox"});
  expect_error(parse(R"([{"image_id": 9, "category_id": 1, "bbox": [0, 0, 1, 1], "score": "a"}])"),
               {"score", "expected a number"});
}

TEST(CocoIo, Files) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("mbmd_coco_io_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string gt_path = (dir / "gt.json").string();
  const std::string bad_path = (dir / "bad.json").string();
  std::ofstream(gt_path) << good_gt().dump();
  std::ofstream(bad_path) << "[{\"image_id\": 9,";
  const EvalSet gt = read_coco_ground_truth(gt_path);
  EXPECT_EQ(gt.ground_truths.size(), 2u);
  expect_error([&] { read_coco_results(bad_path, gt); }, {bad_path, "not valid JSON"});
  expect_error([&] { read_coco_ground_truth((dir / "missing.json").string()); },
               {"missing.json", "cannot open"});
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mbmd::engine
