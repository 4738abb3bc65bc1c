// input.crop_breast on real films (mini-MIAS, /work/shared/data/mini-mias): through the pipeline,
// in evaluation and in training, every mass stays whole inside the crop, most of the black
// background goes, and the crop maps back to the film exactly.
#include <gtest/gtest.h>

#include <algorithm>

#include "mbmd/model/breast_region.h"
#include "mbmd/pipeline/data_pipeline.h"
#include "mbmd_paths.h"
#include "pipeline_epoch.h"

namespace mbmd::engine {
namespace {

using mbmd::testing::drain_epoch;

// A handful of films with masses: left and right breasts, fatty and dense.
std::vector<data::Sample> some_films(const Json& config) {
  const auto dataset = read_dataset_from_config(config);
  std::vector<data::Sample> out;
  for (const auto& s : dataset.samples)
    if (s.image_id == "mdb001" || s.image_id == "mdb002" || s.image_id == "mdb010" ||
        s.image_id == "mdb023" || s.image_id == "mdb028")
      out.push_back(s);
  return out;
}

Json mias_config() {
  Json config = default_config();
  apply_overrides(
      config, {"data.dataset=mias", "data.root=" + std::string(MBMD_SHARED_DIR) + "/data/mini-mias",
               "data.masses_only=true", "data.split=none", "data.workers=0", "train.batch_size=1",
               "input.scale=[512,512]", "input.crop_breast.enabled=true"});
  return config;
}

TEST(BreastCropOnMias, KeepsEveryMassAndDropsTheBackground) {
  const Json config = mias_config();
  const auto films = some_films(config);
  ASSERT_EQ(films.size(), 5u);
  for (const bool train : {false, true}) {
    DataPipeline pipeline(films, pipeline_options_from_config(config, train));
    for (const auto& b : drain_epoch(pipeline, 0)) {
      const auto& film = films[b.samples[0]];
      const auto& meta = b.batch.metas[0];
      const auto gt = b.batch.gt_boxes[0];
      const std::string what = film.image_id + (train ? " (train)" : " (eval)");
      // Inside the input: the crop holds every mass whole.
      EXPECT_GE(gt.min().item<float>(), -1e-3) << what;
      EXPECT_LE(gt.select(1, 2).max().item<float>(), meta.width + 1e-3) << what;
      EXPECT_LE(gt.select(1, 3).max().item<float>(), meta.height + 1e-3) << what;
      EXPECT_TRUE(model::boxes_to_original(gt, meta).allclose(film.boxes, 0, 1e-2)) << what;
      // The crop is at most 80% of the film's width: the black side goes.
      const double crop_width = meta.width / meta.scale_x;
      EXPECT_LT(crop_width, 0.8 * film.width) << what << " crop width " << crop_width;
    }
  }
}

TEST(BreastCropOnMias, LeavesTheLabelsOut) {
  Json config = mias_config();
  auto films = some_films(config);
  int64_t most_left_out = 0;
  for (auto& film : films) {
    data::load_sample_image(film);
    const auto region = model::find_breast_region(film.image, 20, 16);
    ASSERT_TRUE(region.found) << film.image_id;
    // Outside the window almost nothing is bright: labels and markers, if any, are small and
    // left out, never joined to the breast.
    auto outside = film.image.clone();
    outside.slice(0, region.window.y0, region.window.y1)
        .slice(1, region.window.x0, region.window.x1)
        .zero_();
    const double bright_outside = outside.gt(20).to(at::kFloat).mean().item<double>();
    EXPECT_LT(bright_outside, 0.02) << film.image_id;
    most_left_out = std::max(most_left_out, outside.gt(20).sum().item<int64_t>());
  }
  // Some of these films carry a label (a few hundred bright pixels) that the crop leaves out.
  EXPECT_GT(most_left_out, 200);
}

}  // namespace
}  // namespace mbmd::engine
