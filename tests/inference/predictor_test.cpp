// Prediction helpers: COCO results entries, evaluation sets, overlays, loading a detector from a
// checkpoint, and a run of a tiny detector over a pipeline.
#include "mbmd/inference/predictor.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "mbmd/core/error.h"
#include "mbmd/data/image_io.h"
#include "mbmd/data/png.h"
#include "mbmd/model/precision.h"
#include "mbmd/model/weights.h"
#include "synthetic_set.h"
#include "temp_dir.h"

namespace mbmd::engine {
namespace {

namespace fs = std::filesystem;

using mbmd::testing::two_detections;

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

class DetectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = mbmd::testing::fresh_test_dir("mbmd_predictor_");
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
  io::Checkpoint checkpoint;  // what a training checkpoint holds that loading needs
  checkpoint.state_dict = model::model_state_dict(*detector);
  checkpoint.meta = {{"config", config_}};
  io::save_checkpoint(path, checkpoint);

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

// Overrides reach the model before it is built: a checkpoint with another number of classes than
// its stored config (a fine-tuned torchvision model) loads with --set model.num_classes=N.
TEST_F(DetectorTest, OverridesApplyBeforeTheModelIsBuilt) {
  Json two_classes = config_;
  apply_overrides(two_classes, {"model.num_classes=2"});
  at::manual_seed(0);
  model::FasterRCNN detector(model::detector_options_from_config(two_classes));
  io::Checkpoint checkpoint;
  checkpoint.state_dict = model::model_state_dict(*detector);
  checkpoint.meta = {{"config", config_}};  // the stored config says another class count
  const std::string path = (root_ / "finetuned.ckpt").string();
  io::save_checkpoint(path, checkpoint);
  EXPECT_THROW(load_detector(path), Error);
  const auto loaded = load_detector(path, std::nullopt, {"model.num_classes=2"});
  EXPECT_EQ(loaded.config["model"]["num_classes"], 2);
  EXPECT_THROW(load_detector(path, std::nullopt, {"model.no_such_key=1"}), Error);
}

// runtime.device: a checkpoint trained on a GPU predicts on the CPU by default; a device that
// this LibTorch lacks, asked for by override, is an error naming the key.
TEST_F(DetectorTest, RunsOnTheConfiguredDeviceNotTheTrainingOne) {
  at::manual_seed(0);
  model::FasterRCNN detector(model::detector_options_from_config(config_));
  io::Checkpoint checkpoint;
  checkpoint.state_dict = model::model_state_dict(*detector);
  Json trained_on_gpu = config_;
  apply_overrides(trained_on_gpu, {"runtime.device=cuda:0"});
  checkpoint.meta = {{"config", trained_on_gpu}};
  const std::string path = (root_ / "gpu.ckpt").string();
  io::save_checkpoint(path, checkpoint);
  const auto loaded = load_detector(path);
  EXPECT_EQ(loaded.config["runtime"]["device"], "cpu");
  EXPECT_TRUE(loaded.model->parameters().front().device().is_cpu());
  if (at::hasCUDA()) {
    const auto on_gpu = load_detector(path, std::nullopt, {"runtime.device=cuda"});
    EXPECT_TRUE(on_gpu.model->parameters().front().device().is_cuda());
  } else {
    try {
      load_detector(path, std::nullopt, {"runtime.device=cuda"});
      FAIL() << "runtime.device=cuda was accepted without CUDA";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("runtime.device"), std::string::npos) << e.what();
    }
  }
}

// runtime.precision bf16: the loaded model holds its convolution and linear weights in bf16 and
// returns FP32 detections; where the CPU has no BF16 it falls back to fp32 and holds FP32.
TEST_F(DetectorTest, LoadsABf16ModelWithBf16Weights) {
  at::manual_seed(0);
  model::FasterRCNN detector(model::detector_options_from_config(config_));
  io::Checkpoint checkpoint;
  checkpoint.state_dict = model::model_state_dict(*detector);
  checkpoint.meta = {{"config", config_}};
  const std::string path = (root_ / "model.ckpt").string();
  io::save_checkpoint(path, checkpoint);
  auto conv_weight_type = [](const LoadedDetector& loaded) {
    for (const auto& p : loaded.model->named_parameters())
      if (p.value().dim() == 4) return p.value().scalar_type();
    return at::kDouble;
  };
  ::setenv("MBMD_CPU_BF16", "0", 1);
  EXPECT_EQ(conv_weight_type(load_detector(path, std::nullopt, {"runtime.precision=bf16"})),
            at::kFloat);
  ::unsetenv("MBMD_CPU_BF16");
  EXPECT_EQ(conv_weight_type(load_detector(path)), at::kFloat);
  if (!model::cpu_supports_bf16()) GTEST_SKIP() << "this CPU has no BF16 instructions";
  auto loaded = load_detector(path, std::nullopt, {"runtime.precision=bf16"});
  EXPECT_EQ(conv_weight_type(loaded), at::kBFloat16);
  DataPipeline pipeline(read_dataset_from_config(config_).samples,
                        pipeline_options_from_config(config_, false));
  size_t seen = 0;
  run_detector(*loaded.model, pipeline, [&](const ImageResult& r) {
    EXPECT_EQ(r.detections.boxes.scalar_type(), at::kFloat);
    EXPECT_EQ(r.detections.scores.scalar_type(), at::kFloat);
    ++seen;
  });
  EXPECT_EQ(seen, 3u);
}

}  // namespace
// Test-time flips: a mirrored pass gives, in original pixels, the mirror of what the model finds
// on the mirrored film.
TEST_F(DetectorTest, FlippedPassEqualsTheMirroredFilm) {
  Json config = config_;
  apply_overrides(config, {"model.roi.test.score_thr=0.0"});
  at::manual_seed(0);
  model::FasterRCNN detector(model::detector_options_from_config(config));
  detector->eval();
  data::Sample film = read_dataset_from_config(config).samples[0];
  data::Sample mirrored = film;
  data::load_sample_image(film);
  mirrored.file = (root_ / "mirrored.png").string();
  data::write_png(mirrored.file, film.image.flip({1}), 8);
  film.image = at::Tensor();
  auto detect = [&](const data::Sample& s, bool flip) {
    auto options = pipeline_options_from_config(config, false);
    options.flip_all = flip;
    DataPipeline pipeline({s}, options);
    model::Detections found;
    run_detector(*detector, pipeline, [&](const ImageResult& r) { found = r.detections; });
    return found;
  };
  const auto flipped = detect(film, true);
  const auto plain = detect(mirrored, false);
  ASSERT_GT(flipped.boxes.size(0), 0);
  ASSERT_EQ(flipped.boxes.sizes(), plain.boxes.sizes());
  const double width = film.width;
  const at::Tensor unmirrored =
      at::stack({width - plain.boxes.select(1, 2), plain.boxes.select(1, 1),
                 width - plain.boxes.select(1, 0), plain.boxes.select(1, 3)},
                1);
  EXPECT_TRUE(at::allclose(flipped.boxes, unmirrored, 1e-4, 1e-3));
  EXPECT_TRUE(at::allclose(flipped.scores, plain.scores, 1e-5, 1e-6));
}

}  // namespace mbmd::engine
