// COCO files for `mbmd eval --gt --dets`: a ground-truth file (images, annotations with bbox
// [x, y, w, h], area, iscrowd, categories) and a results file (a list of {image_id, category_id,
// bbox, score}). Malformed files raise mbmd::Error naming the file, the entry and the problem.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mbmd/eval/types.h"

namespace mbmd::engine {

// The images (all of them, sorted by id as pycocotools does: numerically for integer ids), the
// annotations in file order and the file's categories. An annotation without `area` gets its
// box's w * h; without `iscrowd`, 0. `ignore` keys are not read (pycocotools overwrites them).
EvalSet read_coco_ground_truth(const std::string& path);
EvalSet parse_coco_ground_truth(const nlohmann::json& doc, const std::string& origin);

// Detections of a results file for the images and categories of `gt`; an image id or a category
// that `gt` does not have is an error.
std::vector<Detection> read_coco_results(const std::string& path, const EvalSet& gt);
std::vector<Detection> parse_coco_results(const nlohmann::json& doc, const EvalSet& gt,
                                          const std::string& origin);

}  // namespace mbmd::engine
