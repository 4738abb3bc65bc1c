// Ground truths and detections for the metric tests, built in one line each.
#pragma once

#include <string>

#include "mbmd/eval/types.h"

namespace mbmd::engine::test {

inline GroundTruth gt(const std::string& image, Box box, int64_t category = 1, double area = -1,
                      bool crowd = false) {
  GroundTruth g;
  g.image_id = image;
  g.box = box;
  g.category = category;
  g.area = area;
  g.iscrowd = crowd;
  return g;
}

inline Detection det(const std::string& image, Box box, double score, int64_t category = 1) {
  return Detection{image, box, score, category};
}

}  // namespace mbmd::engine::test
