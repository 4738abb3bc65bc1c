// Training augmentation: draws fixed by (seed, epoch, image), crops that never cut a box, grey
// jitter, and, through the whole pipeline, painted masses that land on the batch's ground truth.
#include "mbmd/pipeline/augment.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "mbmd/core/error.h"
#include "mbmd/data/coco.h"
#include "mbmd/data/png.h"
#include "mbmd/pipeline/data_pipeline.h"
#include "pipeline_epoch.h"
#include "temp_dir.h"

namespace mbmd::engine {
namespace {

namespace fs = std::filesystem;
using mbmd::testing::drain_epoch;

AugmentOptions everything_on() {
  AugmentOptions a;
  a.vflip_prob = 0.5;
  a.scale_range = {60, 140};
  a.crop_prob = 0.7;
  a.crop_min_size = 0.4;
  a.gamma = {0.7, 1.4};
  a.contrast = {0.8, 1.2};
  a.brightness = {-10, 10};
  return a;
}

bool same(const AugmentDraw& a, const AugmentDraw& b) {
  return a.vflip == b.vflip && a.short_side == b.short_side && a.crop == b.crop &&
         a.crop_width == b.crop_width && a.crop_height == b.crop_height && a.crop_u == b.crop_u &&
         a.crop_v == b.crop_v && a.gamma == b.gamma && a.contrast == b.contrast &&
         a.brightness == b.brightness;
}

TEST(AugmentDraw, FixedBySeedEpochAndImage) {
  const auto a = everything_on();
  EXPECT_TRUE(same(draw_augment(a, 7, 3, 11), draw_augment(a, 7, 3, 11)));
  EXPECT_FALSE(same(draw_augment(a, 7, 4, 11), draw_augment(a, 7, 3, 11)));
  EXPECT_FALSE(same(draw_augment(a, 7, 3, 12), draw_augment(a, 7, 3, 11)));
  EXPECT_FALSE(same(draw_augment(a, 8, 3, 11), draw_augment(a, 7, 3, 11)));
  int vflips = 0, crops = 0;
  for (size_t i = 0; i < 400; ++i) {
    const auto d = draw_augment(a, 1, 0, i);
    vflips += d.vflip;
    crops += d.crop;
    EXPECT_GE(d.short_side, 60);
    EXPECT_LE(d.short_side, 140);
    EXPECT_GE(d.crop_width, 0.4);
    EXPECT_LE(d.crop_width, 1.0);
    EXPECT_GE(d.gamma, 0.7);
    EXPECT_LE(d.gamma, 1.4);
    EXPECT_GE(d.brightness, -10);
    EXPECT_LE(d.brightness, 10);
  }
  EXPECT_NEAR(vflips, 200, 50);
  EXPECT_NEAR(crops, 280, 50);
}

TEST(AugmentDraw, OffByDefaultAndIndependentOfOtherSwitches) {
  const AugmentOptions off = augment_options_from_config(default_config());
  EXPECT_FALSE(off.geometric());
  for (size_t i = 0; i < 50; ++i) {
    const auto d = draw_augment(off, 3, 1, i);
    EXPECT_FALSE(d.vflip);
    EXPECT_FALSE(d.crop);
    EXPECT_EQ(d.short_side, 0);
    EXPECT_EQ(d.gamma, 1.0);
    EXPECT_EQ(d.contrast, 1.0);
    EXPECT_EQ(d.brightness, 0.0);
  }
  // Switching vertical flips on leaves the crop draws as they were.
  AugmentOptions crops = off;
  crops.crop_prob = 0.5;
  AugmentOptions both = crops;
  both.vflip_prob = 0.5;
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(draw_augment(crops, 3, 1, i).crop, draw_augment(both, 3, 1, i).crop);
    EXPECT_EQ(draw_augment(crops, 3, 1, i).crop_u, draw_augment(both, 3, 1, i).crop_u);
  }
}

TEST(CropWindow, NeverCutsABox) {
  auto a = everything_on();
  a.crop_prob = 1.0;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  int smaller = 0;
  for (size_t i = 0; i < 500; ++i) {
    const int64_t h = 50 + static_cast<int64_t>(i % 70), w = 40 + static_cast<int64_t>(i % 90);
    // One to three boxes anywhere in the image, some of them large.
    const int64_t n = 1 + static_cast<int64_t>(i % 3);
    auto corner = at::rand({n, 2}, gen) * at::tensor({w * 0.9f, h * 0.9f});
    auto size = at::rand({n, 2}, gen) * at::tensor({w * 0.5f, h * 0.5f}) + 1;
    auto boxes = at::cat({corner, (corner + size).minimum(at::tensor({w * 1.f, h * 1.f}))}, 1);
    const auto win = crop_window(h, w, boxes, draw_augment(a, 2, 0, i));
    ASSERT_GE(win.x0, 0);
    ASSERT_GE(win.y0, 0);
    ASSERT_LE(win.x1, w);
    ASSERT_LE(win.y1, h);
    EXPECT_GE(win.width(), static_cast<int64_t>(0.4 * w) - 1);
    EXPECT_GE(win.height(), static_cast<int64_t>(0.4 * h) - 1);
    smaller += win.width() < w || win.height() < h;
    const auto b = boxes.accessor<float, 2>();
    for (int64_t k = 0; k < n; ++k) {
      ASSERT_LE(win.x0, b[k][0]) << i;
      ASSERT_LE(win.y0, b[k][1]) << i;
      ASSERT_GE(win.x1, b[k][2]) << i;
      ASSERT_GE(win.y1, b[k][3]) << i;
    }
  }
  EXPECT_GT(smaller, 250);
  // Without boxes the window has the drawn size; without a crop it is the whole image.
  auto d = draw_augment(a, 2, 0, 0);
  d.crop_width = 0.5;
  d.crop_height = 0.25;
  const auto free = crop_window(100, 80, at::Tensor(), d);
  EXPECT_EQ(free.width(), 40);
  EXPECT_EQ(free.height(), 25);
  d.crop = false;
  EXPECT_EQ(crop_window(100, 80, at::Tensor(), d).width(), 80);
}

TEST(JitterGrey, IdentityGammaContrastAndBrightness) {
  const auto grey = at::tensor({0.f, 63.75f, 127.5f, 255.f});
  AugmentDraw d;
  EXPECT_TRUE(jitter_grey(grey, d).equal(grey));
  d.gamma = 2.0;
  EXPECT_TRUE(jitter_grey(grey, d).allclose(at::tensor({0.f, 15.9375f, 63.75f, 255.f})));
  d.gamma = 1.0;
  d.contrast = 0.5;  // about the mean 111.5625
  const auto c = jitter_grey(grey, d);
  EXPECT_NEAR(c[0].item<float>(), 55.78125f, 1e-3);
  EXPECT_NEAR(c.mean().item<float>(), grey.mean().item<float>(), 1e-3);
  d.contrast = 1.0;
  d.brightness = 10;
  EXPECT_TRUE(jitter_grey(grey, d).equal(at::tensor({10.f, 73.75f, 137.5f, 255.f})));
}

TEST(AugmentOptions, BadKeysAreNamedErrors) {
  for (const std::string bad :
       {"augment.vflip_prob=2.0", "augment.scale_range=[800,640]", "augment.scale_range=[0,640]",
        "augment.crop_prob=-0.5", "augment.crop_min_size=0.0", "augment.gamma=[0.0,1.0]",
        "augment.contrast=[1.5,1.0]", "augment.brightness=[-300.0,0.0]",
        "augment.copy_paste_prob=1.5", "augment.copy_paste_max=0"}) {
    Json config = default_config();
    apply_overrides(config, {bad});
    const std::string key = bad.substr(0, bad.find('='));
    try {
      augment_options_from_config(config);
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  }
}

// Films with a grey breast (100), a bright rectangular mass (250) and a label (255) on black.
class AugmentPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = mbmd::testing::fresh_test_dir("mbmd_augment_");
    data::Dataset dataset;
    dataset.name = "painted";
    dataset.categories = {"mass"};
    for (int i = 0; i < 4; ++i) dataset.samples.push_back(write_film(i));
    data::write_coco((root_ / "set.json").string(), dataset);
    config_ = default_config();
    apply_overrides(config_, {"data.dataset=coco", "data.ann_file=" + (root_ / "set.json").string(),
                              "data.split=none", "data.workers=0", "train.batch_size=2",
                              "input.scale=[200,120]"});
  }
  void TearDown() override { fs::remove_all(root_); }

  data::Sample write_film(int i) {
    const int64_t h = 150, w = 180;
    const bool right = i % 2 == 1;
    auto image = at::zeros({h, w});
    image.slice(0, 10, 140).slice(1, right ? 70 : 0, right ? 180 : 110).fill_(100);
    const int64_t x0 = (right ? 95 : 20) + 5 * i, y0 = 30 + 9 * i;
    image.slice(0, y0, y0 + 24).slice(1, x0, x0 + 30).fill_(250);
    image.slice(0, 2, 6).slice(1, right ? 2 : 160, right ? 14 : 176).fill_(255);
    data::Sample s;
    s.image_id = "film" + std::to_string(i);
    s.file = (root_ / (s.image_id + ".png")).string();
    s.patient_id = s.image_id;
    s.width = static_cast<int>(w);
    s.height = static_cast<int>(h);
    s.boxes = at::tensor({x0, y0, x0 + 30, y0 + 24}, at::kFloat).view({1, 4});
    s.labels = at::zeros({1}, at::kLong);
    data::write_png(s.file, image, 8);
    return s;
  }

  // Image i of a batch as grey values 0..255, without its padding.
  static at::Tensor input_grey(const LoadedBatch& b, size_t i, const PipelineOptions& o) {
    const auto& meta = b.batch.metas[i];
    return b.batch.images[static_cast<int64_t>(i)][0]
                   .slice(0, 0, meta.height)
                   .slice(1, 0, meta.width) *
               o.input.std[0] +
           o.input.mean[0];
  }

  // Checks that the mass painted in every image of the batches lands on its ground-truth box.
  void expect_masses_on_boxes(const std::vector<LoadedBatch>& batches, const PipelineOptions& o) {
    for (const auto& b : batches)
      for (size_t i = 0; i < b.samples.size(); ++i) {
        const auto grey = input_grey(b, i, o);
        const auto nz = grey.gt(175).nonzero();
        ASSERT_GT(nz.size(0), 0);
        const auto low = std::get<0>(nz.min(0)).to(at::kFloat);
        const auto high = std::get<0>(nz.max(0)).to(at::kFloat) + 1;
        const auto painted = at::stack({low[1], low[0], high[1], high[0]}).view({1, 4});
        const auto gt = b.batch.gt_boxes[i];
        EXPECT_TRUE(painted.allclose(gt, 0, 1.0))
            << "sample " << b.samples[i] << " painted " << painted << " gt " << gt;
      }
  }

  fs::path root_;
  Json config_;
};

TEST_F(AugmentPipelineTest, PaintedMassesLandOnTheTransformedBoxes) {
  apply_overrides(config_, {"augment.vflip_prob=0.5", "augment.scale_range=[70,150]",
                            "augment.crop_prob=0.8", "augment.crop_min_size=0.5",
                            "input.flip_prob=0.5", "input.crop_breast.enabled=true",
                            "input.crop_breast.margin=4", "input.canonical_side=true"});
  const auto dataset = read_dataset_from_config(config_);
  const auto options = pipeline_options_from_config(config_, /*train=*/true);
  DataPipeline pipeline(dataset.samples, options);
  std::set<int64_t> widths;
  bool vflipped = false, cropped = false;
  for (int64_t e = 0; e < 6; ++e) {
    const auto batches = drain_epoch(pipeline, e);
    expect_masses_on_boxes(batches, options);
    for (const auto& b : batches)
      for (const auto& m : b.batch.metas) {
        widths.insert(m.width);
        vflipped |= m.vflipped;
        cropped |= m.crop_x > 0;
      }
  }
  EXPECT_GT(widths.size(), 4u);  // multi-scale
  EXPECT_TRUE(vflipped);
  EXPECT_TRUE(cropped);
}

TEST_F(AugmentPipelineTest, WithoutGeometricDrawsTheCropAndFlipsStillMapExactly) {
  apply_overrides(
      config_, {"augment.vflip_prob=0.5", "input.flip_prob=0.5", "input.crop_breast.enabled=true",
                "input.crop_breast.margin=4", "input.canonical_side=true"});
  const auto dataset = read_dataset_from_config(config_);
  const auto options = pipeline_options_from_config(config_, /*train=*/true);
  DataPipeline pipeline(dataset.samples, options);
  for (int64_t e = 0; e < 4; ++e) expect_masses_on_boxes(drain_epoch(pipeline, e), options);
  // Evaluation crops too (without the boxes) and maps back exactly.
  DataPipeline eval(dataset.samples, pipeline_options_from_config(config_, /*train=*/false));
  const auto batches = drain_epoch(eval, 0);
  expect_masses_on_boxes(batches, options);
  const auto& meta = batches[0].batch.metas[0];
  EXPECT_GT(meta.crop_y, 0);
  EXPECT_TRUE(model::boxes_to_original(batches[0].batch.gt_boxes[0], meta)
                  .allclose(dataset.samples[batches[0].samples[0]].boxes, 0, 1e-3));
}

// Copy-paste through the whole pipeline, with flips both ways and crops on top: every bright
// pixel lies in a ground-truth box and every box holds a bright middle, pasted or painted.
TEST_F(AugmentPipelineTest, PastedMassesLandOnTheirBoxes) {
  apply_overrides(
      config_, {"augment.copy_paste_prob=1.0", "augment.copy_paste_max=2", "augment.vflip_prob=0.5",
                "augment.crop_prob=0.5", "input.flip_prob=0.5", "input.crop_breast.enabled=true",
                "input.crop_breast.margin=4", "input.canonical_side=true"});
  const auto dataset = read_dataset_from_config(config_);
  const auto options = pipeline_options_from_config(config_, /*train=*/true);
  DataPipeline pipeline(dataset.samples, options);
  int64_t pasted = 0;
  for (int64_t e = 0; e < 4; ++e)
    for (const auto& b : drain_epoch(pipeline, e))
      for (size_t i = 0; i < b.samples.size(); ++i) {
        const auto grey = input_grey(b, i, options);
        const auto boxes = b.batch.gt_boxes[i];
        ASSERT_EQ(boxes.size(0), b.batch.gt_labels[i].size(0));
        pasted += boxes.size(0) - 1;
        auto in_boxes = at::zeros_like(grey, at::kBool);
        for (int64_t k = 0; k < boxes.size(0); ++k) {
          const auto x0 = static_cast<int64_t>(std::floor(boxes[k][0].item<float>()));
          const auto y0 = static_cast<int64_t>(std::floor(boxes[k][1].item<float>()));
          const auto x1 = static_cast<int64_t>(std::ceil(boxes[k][2].item<float>()));
          const auto y1 = static_cast<int64_t>(std::ceil(boxes[k][3].item<float>()));
          in_boxes.slice(0, y0, y1).slice(1, x0, x1).fill_(true);
          const auto cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
          EXPECT_GT(grey.slice(0, cy - 1, cy + 2).slice(1, cx - 1, cx + 2).min().item<float>(),
                    240.f)
              << "sample " << b.samples[i] << " box " << boxes[k];
        }
        EXPECT_FALSE(grey.gt(175).logical_and(in_boxes.logical_not()).any().item<bool>())
            << "sample " << b.samples[i] << " has bright pixels outside " << boxes;
      }
  EXPECT_GT(pasted, 8);
}

TEST_F(AugmentPipelineTest, DrawsRepeatPerEpochWithAndWithoutCacheAndWorkers) {
  apply_overrides(config_, {"augment.scale_range=[70,150]", "augment.crop_prob=0.8",
                            "augment.gamma=[0.8,1.25]", "augment.contrast=[0.9,1.1]",
                            "augment.brightness=[-5.0,5.0]", "input.crop_breast.enabled=true"});
  const auto dataset = read_dataset_from_config(config_);
  auto options = pipeline_options_from_config(config_, /*train=*/true);
  options.cache = false;
  DataPipeline serial(dataset.samples, options);
  options.cache = true;
  options.workers = 2;
  DataPipeline cached(dataset.samples, options);
  const auto first = drain_epoch(cached, 1);  // fills the cache
  for (const auto* pipeline : {&serial, &cached}) {
    const auto again = drain_epoch(const_cast<DataPipeline&>(*pipeline), 1);
    ASSERT_EQ(again.size(), first.size());
    for (size_t b = 0; b < first.size(); ++b) {
      EXPECT_EQ(again[b].samples, first[b].samples);
      EXPECT_TRUE(again[b].batch.images.equal(first[b].batch.images));
      EXPECT_TRUE(again[b].batch.gt_boxes[0].equal(first[b].batch.gt_boxes[0]));
    }
  }
  // Another epoch draws again: some image comes out at another size.
  const auto other = drain_epoch(cached, 2);
  bool differs = false;
  for (size_t b = 0; b < first.size(); ++b)
    differs |= !other[b].batch.images.sizes().equals(first[b].batch.images.sizes());
  EXPECT_TRUE(differs);
}

}  // namespace
}  // namespace mbmd::engine
