#include "mbmd/train/anchor_coverage_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "mbmd/core/config.h"
#include "mbmd/data/pgm.h"
#include "mbmd/model/anchor_coverage.h"
#include "mbmd/model/detector_options.h"

namespace mbmd::engine {
namespace {

namespace fs = std::filesystem;

// A 400 x 600 film, black but for a bright "breast" in columns 40..199 holding one mass box.
data::Sample film_with_breast_on_the_left(const fs::path& dir) {
  auto pixels = at::zeros({600, 400}, at::kFloat);
  pixels.slice(1, 40, 200).fill_(120.0);
  data::Sample sample;
  sample.image_id = "film";
  sample.file = (dir / "film.pgm").string();
  data::write_pgm(sample.file, pixels);
  sample.width = 400;
  sample.height = 600;
  sample.boxes = at::tensor({100.0f, 250.0f, 150.0f, 300.0f}).view({1, 4});
  sample.labels = at::zeros({1}, at::kLong);
  return sample;
}

double best_iou(const Json& config, int64_t h, int64_t w, const at::Tensor& boxes) {
  return model::anchor_coverage(model::detector_options_from_config(config), {{h, w}}, {boxes})
      .median_best_iou();
}

// With input.crop_breast the network sees the breast's window, resized to the input scale: the
// boxes are measured there, not on the whole film.
TEST(AnchorCoverageLog, MeasuresBoxesWithinTheBreastRegion) {
  const fs::path dir = fs::temp_directory_path() / ("mbmd_coverage_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto sample = film_with_breast_on_the_left(dir);
  Json config = load_config("faster_rcnn_r50_fpn");
  apply_overrides(config, {"input.scale=[600,240]", "input.crop_breast.margin=0"});
  const Json whole = anchor_coverage_entry(config, {sample});
  EXPECT_DOUBLE_EQ(whole["median_best_iou"].get<double>(),
                   best_iou(config, 600, 400, sample.boxes));

  apply_overrides(config, {"input.crop_breast.enabled=true"});
  const Json cropped = anchor_coverage_entry(config, {sample});
  const auto in_window = sample.boxes - at::tensor({40.0f, 0.0f, 40.0f, 0.0f});
  EXPECT_EQ(cropped["boxes"].get<int64_t>(), 1);
  EXPECT_DOUBLE_EQ(cropped["median_best_iou"].get<double>(), best_iou(config, 600, 160, in_window));
  EXPECT_NE(cropped["median_best_iou"].get<double>(), whole["median_best_iou"].get<double>());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mbmd::engine
