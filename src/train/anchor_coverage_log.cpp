#include "mbmd/train/anchor_coverage_log.h"

#include <exception>
#include <utility>

#include "mbmd/data/dataset.h"
#include "mbmd/model/anchor_coverage.h"
#include "mbmd/model/detector_options.h"
#include "mbmd/model/input_transform.h"

namespace mbmd::engine {
namespace {

struct RegionBoxes {
  std::pair<int64_t, int64_t> size;  // height, width of the region
  at::Tensor boxes;                  // relative to the region's top-left corner
};

// The window of the film that the network sees in training (model::input_region with the boxes
// kept whole) and the boxes within it; the whole film without input.crop_breast.
RegionBoxes region_boxes(const data::Sample& sample, const model::InputOptions& input) {
  if (!input.crop_breast.enabled) return {{sample.height, sample.width}, sample.boxes};
  data::Sample loaded = sample;
  try {
    data::load_sample_image(loaded);
  } catch (const std::exception&) {
    // A film that cannot be read is measured whole here; training reports or skips it.
    return {{sample.height, sample.width}, sample.boxes};
  }
  auto grey = loaded.image.to(at::kFloat);
  if (grey.dim() == 3) grey = grey.select(0, 0);
  const auto window = model::input_region(grey, input, sample.boxes).window;
  const auto offset = at::tensor({window.x0, window.y0, window.x0, window.y0}, at::kFloat);
  return {{window.height(), window.width()}, sample.boxes.to(at::kFloat) - offset};
}

}  // namespace

Json anchor_coverage_entry(const Json& config, const std::vector<data::Sample>& train) {
  const auto options = model::detector_options_from_config(config);
  std::vector<std::pair<int64_t, int64_t>> sizes;
  std::vector<at::Tensor> boxes;
  for (const auto& s : train) {
    if (s.width <= 0 || s.height <= 0 || !s.boxes.defined() || s.boxes.size(0) == 0) continue;
    auto region = region_boxes(s, options.input);
    sizes.push_back(region.size);
    boxes.push_back(region.boxes);
  }
  const auto coverage = model::anchor_coverage(options, sizes, boxes);
  return {{"type", "anchor_coverage"},
          {"boxes", coverage.best_iou.size()},
          {"covered", coverage.covered},
          {"share", coverage.share()},
          {"median_best_iou", coverage.median_best_iou()},
          {"pos_iou_thr", coverage.pos_iou_thr}};
}

}  // namespace mbmd::engine
