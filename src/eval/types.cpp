#include "mbmd/eval/types.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <unordered_set>

#include "mbmd/core/error.h"

namespace mbmd::engine {
namespace {

std::string box_text(const Box& box) {
  std::ostringstream out;
  out << "[" << box[0] << ", " << box[1] << ", " << box[2] << ", " << box[3] << "]";
  return out.str();
}

void check_box(const Box& box, const std::string& origin, const std::string& what) {
  for (double v : box)
    if (!std::isfinite(v))
      throw Error(origin + ": " + what + " has a non-finite box " + box_text(box));
  if (box[2] < box[0] || box[3] < box[1])
    throw Error(origin + ": " + what + " has x2 < x1 or y2 < y1 in box " + box_text(box) +
                " (boxes are x1 y1 x2 y2)");
}

}  // namespace

void validate(const EvalSet& set, const std::string& origin) {
  std::unordered_set<std::string> images;
  for (const auto& id : set.image_ids)
    if (!images.insert(id).second) throw Error(origin + ": image id '" + id + "' is listed twice");
  const std::vector<int64_t> categories = evaluated_categories(set);
  const std::set<int64_t> known(categories.begin(), categories.end());
  // What ground truths and detections share: a listed image, an evaluated category, a box.
  auto check_entry = [&](const std::string& what, const std::string& image_id, int64_t category,
                         const auto& box) {
    if (!images.count(image_id)) throw Error(origin + ": " + what + " is on an unlisted image");
    if (!known.count(category))
      throw Error(origin + ": " + what + " has category " + std::to_string(category) +
                  " that is not evaluated");
    check_box(box, origin, what);
  };
  for (size_t i = 0; i < set.ground_truths.size(); ++i) {
    const GroundTruth& g = set.ground_truths[i];
    const std::string what = "ground truth " + std::to_string(i) + " (image '" + g.image_id + "')";
    check_entry(what, g.image_id, g.category, g.box);
    if (!std::isfinite(g.area)) throw Error(origin + ": " + what + " has a non-finite area");
  }
  for (size_t i = 0; i < set.detections.size(); ++i) {
    const Detection& d = set.detections[i];
    const std::string what = "detection " + std::to_string(i) + " (image '" + d.image_id + "')";
    check_entry(what, d.image_id, d.category, d.box);
    if (!std::isfinite(d.score)) throw Error(origin + ": " + what + " has a non-finite score");
  }
}

std::vector<int64_t> evaluated_categories(const EvalSet& set) {
  std::set<int64_t> categories(set.categories.begin(), set.categories.end());
  if (categories.empty()) {
    for (const auto& g : set.ground_truths) categories.insert(g.category);
    for (const auto& d : set.detections) categories.insert(d.category);
  }
  return {categories.begin(), categories.end()};
}

double box_iou(const Box& detection, const Box& ground_truth, bool crowd) {
  // Same operations as pycocotools' bbIou (maskApi.c): overlap widths of <= 0 give 0.
  const double w =
      std::min(detection[2], ground_truth[2]) - std::max(detection[0], ground_truth[0]);
  if (w <= 0) return 0.0;
  const double h =
      std::min(detection[3], ground_truth[3]) - std::max(detection[1], ground_truth[1]);
  if (h <= 0) return 0.0;
  const double inter = w * h;
  const double det_area = (detection[2] - detection[0]) * (detection[3] - detection[1]);
  const double gt_area = (ground_truth[2] - ground_truth[0]) * (ground_truth[3] - ground_truth[1]);
  const double uni = crowd ? det_area : det_area + gt_area - inter;
  return inter / uni;
}

}  // namespace mbmd::engine
