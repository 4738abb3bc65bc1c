// Prediction helpers: COCO results entries, evaluation sets, overlays, loading a detector from a
// checkpoint, and a run of a tiny detector over a pipeline.
#include "mbmd/engine/predictor.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "engine/synthetic_set.h"
#include "mbmd/core/error.h"
#include "mbmd/data/image_io.h"
#include "mbmd/engine/checkpointing.h"
#include "mbmd/engine/overlay.h"
#include "mbmd/model/weights.h"

namespace mbmd::engine {
namespace {

namespace fs = std::filesystem;

model::Detections two_detections() {
  model::Detections d;
  d.boxes = at::tensor({10.0f, 20.0f, 30.0f, 60.0f, 5.0f, 5.0f, 9.0f, 7.0f}).view({2, 4});
  d.scores = at::tensor({0.9f, 0.2f});
  d.labels = at::tensor({0, 1}, at::kLong);
  return d;
}

TEST(CocoResults, BoxesAsXywhWithOneBasedCategories) {
  const Json all = coco_results("mdb001", two_detections());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].at("image_id"), "mdb001");
  EXPECT_EQ(all[0].at("category_id"), 1);
  EXPECT_EQ(all[1].at("category_id"), 2);
  const auto bbox = all[0].at("bbox").get<std::vector<double>>();
  EXPECT_EQ(bbox, (std::vector<double>{10, 20, 20, 40}));
  EXPECT_NEAR(all[0].at("score").get<double>(), 0.9, 1e-6);
  EXPECT_EQ(coco_results("x", two_detections(), 0.5).size(), 1u);
  EXPECT_TRUE(coco_results("x", model::Detections{}).empty());
}

TEST(EvalSetFromDetections, GroundTruthAndDetectionsPerImage) {
  data::Sample a, b;
  a.image_id = "a";
  a.boxes = at::tensor({1.0f, 2.0f, 3.0f, 4.0f}).view({1, 4});
  a.labels = at::zeros({1}, at::kLong);
  b.image_id = "b";  // a normal image
  const auto set = make_eval_set({a, b}, {two_detections(), model::Detections{}});
  EXPECT_EQ(set.image_ids, (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(set.ground_truths.size(), 1u);
  EXPECT_EQ(set.ground_truths[0].box, (Box{1, 2, 3, 4}));
  EXPECT_EQ(set.ground_truths[0].category, 1);
  ASSERT_EQ(set.detections.size(), 2u);
  EXPECT_EQ(set.detections[1].category, 2);
  EXPECT_EQ(set.detections[0].image_id, "a");
  EXPECT_THROW(make_eval_set({a}, {}), Error);
}

TEST(Overlay, RectanglesAndDigits) {
  at::Tensor image = at::zeros({20, 30});
  draw_rectangle(image, 2, 3, 10, 12, 1, 255.0f);
  EXPECT_EQ(image[3][2].item<float>(), 255.0f);    // top-left corner
  EXPECT_EQ(image[12][10].item<float>(), 255.0f);  // bottom-right corner
  EXPECT_EQ(image[7][10].item<float>(), 255.0f);   // right edge
  EXPECT_EQ(image[7][6].item<float>(), 0.0f);      // inside stays
  EXPECT_EQ(image.sum().item<float>(), 255.0f * (2 * 9 + 2 * 8));
  // Drawing off the image is clipped, not an error.
  draw_rectangle(image, -5, -5, 100, 100, 2, 7.0f);
  EXPECT_EQ(image[0][0].item<float>(), 7.0f);

  at::Tensor text = at::zeros({7, 10});
  draw_text(text, 1, 1, "1", 1, 255.0f, 50.0f);
  // Glyph '1' rows: .#. ##. .#. .#. ###  -> 8 ink cells; the rest of its box is background.
  EXPECT_EQ((text == 255.0f).sum().item<int64_t>(), 8);
  EXPECT_EQ(text[1][2].item<float>(), 255.0f);
  EXPECT_EQ(text[1][1].item<float>(), 50.0f);

  at::Tensor grey = at::full({40, 60}, 100.0f);
  const auto drawn = draw_detections(grey, two_detections(), 0.5);
  EXPECT_EQ(drawn[20][10].item<float>(), 255.0f);  // the 0.9 box's corner
  EXPECT_EQ(drawn[6][9].item<float>(), 100.0f);    // the 0.2 box is under the threshold
  EXPECT_EQ(grey[20][10].item<float>(), 100.0f);   // the input is left as it was
}

class DetectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("mbmd_predictor_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    config_ = mbmd::testing::tiny_config(
        mbmd::testing::write_synthetic_set((root_ / "data").string(), 3));
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
  Json config_;
};

TEST_F(DetectorTest, LoadsFromItsCheckpointAndRunsOverAPipeline) {
  at::manual_seed(0);
  model::FasterRCNN detector(model::detector_options_from_config(config_));
  const std::string path = (root_ / "model.ckpt").string();
  save_training_checkpoint(path, *detector, nullptr, TrainState{}, config_);

  auto loaded = load_detector(path);  // config from the checkpoint
  EXPECT_EQ(loaded.config, config_);
  EXPECT_FALSE(loaded.model->is_training());
  const auto a = detector->named_parameters();
  const auto b = loaded.model->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i].value().equal(b[i].value())) << a[i].key();

  auto options = pipeline_options_from_config(config_, false);
  options.keep_original = true;
  DataPipeline pipeline(read_dataset_from_config(config_).samples, options);
  std::vector<size_t> seen;
  run_detector(*loaded.model, pipeline, [&](const ImageResult& r) {
    seen.push_back(r.sample);
    EXPECT_EQ(r.original.sizes(), (at::IntArrayRef{96, 128}));
    EXPECT_EQ(r.detections.boxes.dim(), 2);
    EXPECT_EQ(r.detections.boxes.size(0), r.detections.scores.size(0));
    if (r.detections.boxes.numel() > 0) {
      EXPECT_GE(r.detections.boxes.min().item<float>(), 0.0f);
      EXPECT_LE(r.detections.boxes.select(1, 2).max().item<float>(), 128.0f);
    }
  });
  EXPECT_EQ(seen, (std::vector<size_t>{0, 1, 2}));

  EXPECT_THROW(load_detector((root_ / "missing.ckpt").string()), Error);
  io::Checkpoint bare;
  bare.state_dict = model::model_state_dict(*detector);
  io::save_checkpoint((root_ / "bare.ckpt").string(), bare);
  EXPECT_THROW(load_detector((root_ / "bare.ckpt").string()), Error);  // no config in it
  EXPECT_NO_THROW(load_detector((root_ / "bare.ckpt").string(), config_));
  Json other = config_;
  apply_overrides(other, {"model.backbone.depth=34"});
  EXPECT_THROW(load_detector(path, other), Error);  // weights of another network
}

}  // namespace
}  // namespace mbmd::engine
