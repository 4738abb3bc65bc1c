// What the evaluation metrics take: ground-truth boxes, scored detections and the list of images
// they were made on (docs/design.md, "Metrics"). Plain values, no LibTorch, so that the metrics can
// be computed from files (`mbmd eval --gt --dets`) as well as from a model's output.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace mbmd::engine {

// x1 y1 x2 y2 in pixels. Widths are x2 - x1 with no +1, as pycocotools computes on [x, y, w, h].
using Box = std::array<double, 4>;

struct GroundTruth {
  std::string image_id;
  Box box{};
  int64_t category = 1;
  // The area that decides the COCO area range (small / medium / large); a negative value means
  // the box's own area. COCO files give it as `area`.
  double area = -1.0;
  // A crowd region: matched by intersection over the detection's area, may absorb several
  // detections, and is ignored (neither a hit to find nor a miss), as in pycocotools.
  bool iscrowd = false;
  // Ignored without the crowd IoU rule (e.g. a lesion to leave out). pycocotools overwrites a
  // COCO file's `ignore` key with `iscrowd`, so the COCO reader never sets this.
  bool ignore = false;

  double effective_area() const {
    return area >= 0.0 ? area : (box[2] - box[0]) * (box[3] - box[1]);
  }
  bool ignored() const { return iscrowd || ignore; }
};

struct Detection {
  std::string image_id;
  Box box{};
  double score = 0.0;
  int64_t category = 1;
};

// Everything one evaluation looks at.
struct EvalSet {
  // Every evaluated image, including those with no ground truth (normal images count for FPPI)
  // and those with no detections. The order breaks ties between equal scores on different images
  // (pycocotools uses the sorted image ids; the COCO reader keeps that order).
  std::vector<std::string> image_ids;
  std::vector<GroundTruth> ground_truths;
  // Within an image, equal scores keep this order (a stable sort, as pycocotools' mergesort).
  std::vector<Detection> detections;
  // The evaluated categories; empty means every category seen in the ground truth and the
  // detections. A category without ground truth is left out of the means.
  std::vector<int64_t> categories;
  // The patient of each image (parallel to image_ids), for the patient-level bootstrap; empty,
  // or an empty entry, makes an image its own patient.
  std::vector<std::string> patient_ids;
};

// Checks that every box is finite with x2 >= x1 and y2 >= y1, every score finite, every image id
// listed once and every category evaluated; throws mbmd::Error naming `origin` and the problem.
void validate(const EvalSet& set, const std::string& origin = "evaluation set");

// The categories that `set` evaluates, sorted (set.categories, or those seen when it is empty).
std::vector<int64_t> evaluated_categories(const EvalSet& set);

// Intersection over union as pycocotools' bbIou: no +1 on widths; for a crowd ground truth the
// union is the detection's area alone.
double box_iou(const Box& detection, const Box& ground_truth, bool crowd = false);

}  // namespace mbmd::engine
