// A finished cross-validation's pooled test parts, written by hand for tests: two 64x64 films
// (ids 1 and 2), each with one mass at [10, 10, 20, 20] (x, y, w, h), the folds' detections and
// each fold's operating threshold (fold<r>/fold.json).
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "mbmd/core/json_file.h"

namespace mbmd::testing {

// A COCO result of fold `fold` on film `image_id`: a 20x20 box at x (10 hits the mass; 40 misses).
inline Json pooled_detection(int image_id, int fold, double score, double x) {
  return {{"image_id", image_id},
          {"category_id", 1},
          {"bbox", {x, 10, 20, 20}},
          {"score", score},
          {"fold", fold}};
}

inline void write_pooled_run(const std::filesystem::path& dir, const Json& detections,
                             const std::map<int, double>& fold_thresholds) {
  auto image = [](int id) {
    return Json{{"id", id},
                {"file_name", "f" + std::to_string(id) + ".png"},
                {"width", 64},
                {"height", 64}};
  };
  auto mass = [](int id, int image_id) {
    return Json{{"id", id},         {"image_id", image_id},
                {"category_id", 1}, {"bbox", {10, 10, 20, 20}},
                {"area", 400},      {"iscrowd", 0}};
  };
  std::filesystem::create_directories(dir);
  write_json_file((dir / "test_gt.json").string(),
                  {{"images", {image(1), image(2)}},
                   {"annotations", {mass(1, 1), mass(2, 2)}},
                   {"categories", {{{"id", 1}, {"name", "mass"}}}}});
  write_json_file((dir / "test_dets.json").string(), detections);
  for (const auto& [fold, thr] : fold_thresholds) {
    const auto fold_dir = dir / ("fold" + std::to_string(fold));
    std::filesystem::create_directories(fold_dir);
    write_json_file((fold_dir / "fold.json").string(), {{"score_thr", thr}});
  }
}

}  // namespace mbmd::testing
