// The data pipeline: order and flips fixed by (seed, epoch), batches with boxes in input
// coordinates, the same batches with and without worker threads and cache, errors surfacing.
#include "mbmd/pipeline/data_pipeline.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "mbmd/core/error.h"
#include "mbmd/data/coco.h"
#include "mbmd/model/detector_options.h"
#include "mbmd_paths.h"
#include "pipeline_epoch.h"
#include "synthetic_set.h"
#include "temp_dir.h"

namespace mbmd::engine {
namespace {

namespace fs = std::filesystem;
using mbmd::testing::drain_epoch;

TEST(EpochPlan, DeterministicPerSeedAndEpoch) {
  const auto a = plan_epoch(50, 7, 3, true, 0.5);
  const auto b = plan_epoch(50, 7, 3, true, 0.5);
  EXPECT_EQ(a.order, b.order);
  EXPECT_EQ(a.flips, b.flips);
  EXPECT_NE(plan_epoch(50, 7, 4, true, 0.5).order, a.order);
  EXPECT_NE(plan_epoch(50, 8, 3, true, 0.5).order, a.order);
  // A permutation, with about half flipped.
  EXPECT_EQ(std::set<size_t>(a.order.begin(), a.order.end()).size(), 50u);
  const auto flipped = std::count(a.flips.begin(), a.flips.end(), true);
  EXPECT_GT(flipped, 10);
  EXPECT_LT(flipped, 40);
  const auto none = plan_epoch(50, 7, 3, true, 0.0);
  EXPECT_EQ(std::count(none.flips.begin(), none.flips.end(), true), 0);
  const auto fixed = plan_epoch(4, 7, 3, false, 0.5);
  EXPECT_EQ(fixed.order, (std::vector<size_t>{0, 1, 2, 3}));
  EXPECT_EQ(std::count(fixed.flips.begin(), fixed.flips.end(), true), 0);
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = mbmd::testing::fresh_test_dir("mbmd_pipeline_");
    config_ = mbmd::testing::tiny_config(
        mbmd::testing::write_synthetic_set((root_ / "data").string(), 5, 256, 192));
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path root_;
  Json config_;
};

TEST_F(PipelineTest, BatchesHoldResizedImagesAndInputBoxes) {
  const auto dataset = read_dataset_from_config(config_);
  ASSERT_EQ(dataset.samples.size(), 5u);
  auto options = pipeline_options_from_config(config_, /*train=*/false);
  DataPipeline pipeline(dataset.samples, options);
  EXPECT_EQ(pipeline.num_batches(), 3);  // 2 + 2 + 1
  const auto batches = drain_epoch(pipeline, 0);
  ASSERT_EQ(batches.size(), 3u);
  // 256x192 fits 128x96 at scale 0.5; padded to a multiple of 32: 128 x 96.
  EXPECT_EQ(batches[0].batch.images.sizes(), (at::IntArrayRef{2, 3, 96, 128}));
  EXPECT_EQ(batches[2].batch.images.size(0), 1);
  EXPECT_EQ(batches[2].samples, (std::vector<size_t>{4}));
  const auto& meta = batches[0].batch.metas[0];
  EXPECT_EQ(meta.height, 96);
  EXPECT_EQ(meta.width, 128);
  EXPECT_DOUBLE_EQ(meta.scale_x, 0.5);
  EXPECT_TRUE(batches[0].batch.gt_boxes[0].allclose(dataset.samples[0].boxes * 0.5));
  EXPECT_EQ(batches[0].batch.gt_labels[0].item<int64_t>(), 0);
  // Normalised as prepare_image does it (resize and normalise commute up to rounding).
  data::Sample s = dataset.samples[1];
  data::load_sample_image(s);
  const auto expected =
      model::prepare_image(s.image, model::detector_options_from_config(config_).input);
  EXPECT_TRUE(batches[0].batch.images[1].allclose(expected.tensor, 1e-4, 1e-4));
}

TEST_F(PipelineTest, TrainingFlipsMirrorImagesAndBoxes) {
  const auto dataset = read_dataset_from_config(config_);
  auto options = pipeline_options_from_config(config_, /*train=*/true);
  options.input.flip_prob = 1.0;
  options.workers = 0;
  DataPipeline flipped(dataset.samples, options);
  options.input.flip_prob = 0.0;
  DataPipeline plain(dataset.samples, options);
  const auto f = drain_epoch(flipped, 2);
  const auto p = drain_epoch(plain, 2);
  ASSERT_EQ(f.size(), p.size());
  for (size_t b = 0; b < f.size(); ++b) {
    EXPECT_EQ(f[b].samples, p[b].samples);  // the flip draw does not change the order
    EXPECT_TRUE(f[b].batch.metas[0].flipped);
    EXPECT_TRUE(f[b].batch.images.flip({3}).equal(p[b].batch.images));
    const auto pb = p[b].batch.gt_boxes[0];
    const auto fb = f[b].batch.gt_boxes[0];
    EXPECT_NEAR(fb[0][0].item<float>(), 128 - pb[0][2].item<float>(), 1e-4);
    EXPECT_NEAR(fb[0][2].item<float>(), 128 - pb[0][0].item<float>(), 1e-4);
    EXPECT_NEAR(fb[0][1].item<float>(), pb[0][1].item<float>(), 1e-4);
  }
}

TEST_F(PipelineTest, WorkersAndCacheGiveTheSameBatches) {
  const auto dataset = read_dataset_from_config(config_);
  auto options = pipeline_options_from_config(config_, /*train=*/true);
  options.workers = 0;
  options.cache = false;
  DataPipeline serial(dataset.samples, options);
  options.workers = 3;
  options.cache = true;
  DataPipeline threaded(dataset.samples, options);
  for (int64_t e : {0, 1, 1}) {  // the second pass of epoch 1 comes from the cache
    const auto a = drain_epoch(serial, e);
    const auto b = drain_epoch(threaded, e);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].index, static_cast<int64_t>(i));
      EXPECT_EQ(b[i].index, static_cast<int64_t>(i));
      EXPECT_EQ(a[i].samples, b[i].samples);
      EXPECT_TRUE(a[i].batch.images.equal(b[i].batch.images));
    }
  }
  auto order = [&](int64_t e) {
    std::vector<size_t> all;
    for (const auto& b : drain_epoch(serial, e))
      all.insert(all.end(), b.samples.begin(), b.samples.end());
    return all;
  };
  EXPECT_NE(order(0), order(1));
}

TEST_F(PipelineTest, LoadingErrorsReachTheConsumer) {
  auto dataset = read_dataset_from_config(config_);
  dataset.samples[3].file = (root_ / "missing.png").string();
  auto options = pipeline_options_from_config(config_, /*train=*/false);
  options.workers = 2;
  DataPipeline pipeline(dataset.samples, options);
  pipeline.start_epoch(0);
  LoadedBatch b;
  EXPECT_THROW(
      {
        while (pipeline.next(b)) {
        }
      },
      Error);
}

TEST_F(PipelineTest, SplitsLeaveOutUnlocatedLesionsAndCheckKeys) {
  auto dataset = read_dataset_from_config(config_);
  dataset.samples[0].lesion_without_location = true;
  auto parts = split_dataset(config_, dataset);
  EXPECT_EQ(parts.train.size(), 4u);
  EXPECT_EQ(parts.val.size(), 4u);
  Json cv = config_;
  apply_overrides(cv, {"data.split=cv"});
  parts = split_dataset(cv, dataset);
  // Five patients with one image each, one left out: 4 images over five parts.
  EXPECT_EQ(parts.train.size() + parts.val.size() + parts.test.size(), 4u);
  for (const auto& s : parts.train) EXPECT_NE(s.image_id, "syn0");
  apply_overrides(cv, {"data.permutation=5"});
  EXPECT_THROW(split_dataset(cv, dataset), Error);
  Json bad = config_;
  apply_overrides(bad, {"data.split=random"});
  EXPECT_THROW(split_dataset(bad, dataset), Error);
  Json no_file = config_;
  apply_overrides(no_file, {"data.ann_file="});
  EXPECT_THROW(read_dataset_from_config(no_file), Error);
}

// data.classes and data.separate_classes reach the dataset readers (mini-MIAS as distributed).
TEST(ReadDatasetFromConfig, ClassesReachTheReader) {
  Json config = default_config();
  apply_overrides(
      config, {"data.dataset=mias", "data.root=" + std::string(MBMD_SHARED_DIR) + "/data/mini-mias",
               "data.split=none"});
  auto count_boxes = [](const data::Dataset& dataset, int64_t label) {
    int64_t n = 0;
    for (const auto& s : dataset.samples)
      if (s.labels.defined()) n += s.labels.eq(label).sum().item<int64_t>();
    return n;
  };
  // ["mass"] is the reader's own mass classes (CIRC, SPIC, MISC).
  const auto masses = read_dataset_from_config(config);
  Json circ_spic_misc = config;
  apply_overrides(circ_spic_misc, {R"(data.classes=["CIRC","SPIC","MISC"])"});
  EXPECT_EQ(count_boxes(read_dataset_from_config(circ_spic_misc), 0), count_boxes(masses, 0));
  EXPECT_GT(count_boxes(masses, 0), 40);

  Json calc = config;
  apply_overrides(calc, {R"(data.classes=["CALC"])"});
  const auto calcifications = count_boxes(read_dataset_from_config(calc), 0);
  EXPECT_GT(calcifications, 0);
  EXPECT_NE(calcifications, count_boxes(masses, 0));

  Json separate = config;
  apply_overrides(separate, {R"(data.classes=["CIRC","SPIC"])", "data.separate_classes=true",
                             "model.num_classes=2"});
  const auto two = read_dataset_from_config(separate);
  EXPECT_GT(count_boxes(two, 0), 0);
  EXPECT_GT(count_boxes(two, 1), 0);
  EXPECT_EQ(count_boxes(two, 2), 0);

  apply_overrides(separate, {"model.num_classes=1"});
  try {
    read_dataset_from_config(separate);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("data.separate_classes"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mbmd::engine
