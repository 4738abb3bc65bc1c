// The breast region (threshold, largest component, margin) and the input transform's crop,
// canonical side and vertical flip: painted boxes land where boxes_to_input says, and
// boxes_to_original undoes boxes_to_input exactly.
#include "mbmd/model/breast_region.h"

#include <gtest/gtest.h>

#include "mbmd/core/config.h"
#include "mbmd/core/error.h"
#include "mbmd/model/input_transform.h"

namespace mbmd::model {
namespace {

// A dark film: a grey "breast" over columns [bx0, bx1) and rows [by0, by1), a bright mass inside
// it and a small bright label in the top-left corner, away from the breast.
struct Film {
  at::Tensor image;
  at::Tensor mass;  // [1, 4] x1 y1 x2 y2, pixel edges
};

Film film(int64_t h, int64_t w, int64_t bx0, int64_t by0, int64_t bx1, int64_t by1) {
  Film f;
  f.image = at::rand({h, w}) * 8;  // background noise below the threshold
  f.image.slice(0, by0, by1).slice(1, bx0, bx1).fill_(100);
  const int64_t mx0 = bx0 + (bx1 - bx0) / 3, my0 = by0 + (by1 - by0) / 3;
  const int64_t mx1 = mx0 + (bx1 - bx0) / 4, my1 = my0 + (by1 - by0) / 5;
  f.image.slice(0, my0, my1).slice(1, mx0, mx1).fill_(250);
  f.image.slice(0, 2, 8).slice(1, 2, 12).fill_(255);  // the label
  f.mass = at::tensor({mx0, my0, mx1, my1}, at::kFloat).view({1, 4});
  return f;
}

// The bounding box (pixel edges) of the pixels of a [H, W] grey image above `level`.
at::Tensor painted_box(const at::Tensor& grey, double level) {
  const auto nz = grey.gt(level).nonzero();
  const auto low = std::get<0>(nz.min(0)).to(at::kFloat);
  const auto high = std::get<0>(nz.max(0)).to(at::kFloat) + 1;
  return at::stack({low[1], low[0], high[1], high[0]}).view({1, 4});
}

// The grey values of a prepared image's first channel (mean 0, std 1 options).
InputOptions grey_options() {
  InputOptions o;
  o.mean = {0, 0, 0};
  o.std = {1, 1, 1};
  o.max_long = 400;
  o.max_short = 300;
  return o;
}

TEST(BreastRegion, LargestComponentPlusMarginLeavesTheLabelOut) {
  const auto f = film(200, 300, 150, 40, 300, 170);
  const auto region = find_breast_region(f.image, 20, 5);
  EXPECT_TRUE(region.found);
  EXPECT_EQ(region.window.x0, 145);
  EXPECT_EQ(region.window.y0, 35);
  EXPECT_EQ(region.window.x1, 300);  // clipped to the image
  EXPECT_EQ(region.window.y1, 175);
  EXPECT_NEAR(region.centre_x, 225, 1.0);
}

TEST(BreastRegion, LargeFilmsAreExactToABlock) {
  // 1100 x 900: blocks of 3 x 3 pixels.
  const auto f = film(900, 1100, 31, 100, 700, 803);
  const auto w = find_breast_region(f.image, 20, 0).window;
  EXPECT_LE(w.x0, 31);
  EXPECT_GE(w.x0, 31 - 3);
  EXPECT_LE(w.y0, 100);
  EXPECT_GE(w.y0, 100 - 3);
  EXPECT_GE(w.x1, 700);
  EXPECT_LE(w.x1, 700 + 3);
  EXPECT_GE(w.y1, 803);
  EXPECT_LE(w.y1, 803 + 3);
}

TEST(BreastRegion, DarkImageIsKeptWhole) {
  const auto region = find_breast_region(at::zeros({50, 60}), 20, 4);
  EXPECT_FALSE(region.found);
  EXPECT_EQ(region.window.width(), 60);
  EXPECT_EQ(region.window.height(), 50);
  EXPECT_THROW(find_breast_region(at::zeros({1, 50, 60}), 20, 4), Error);
}

TEST(BreastRegion, WidenToBoxesHoldsEveryBoxWhole) {
  const PixelWindow w{50, 40, 100, 90};
  const auto boxes = at::tensor({10.5f, 60.f, 20.2f, 70.f, 60.f, 80.f, 99.f, 120.7f}).view({2, 4});
  const auto out = widen_to_boxes(w, boxes, 110, 200);
  EXPECT_EQ(out.x0, 10);
  EXPECT_EQ(out.y0, 40);
  EXPECT_EQ(out.x1, 100);
  EXPECT_EQ(out.y1, 110);  // clipped to the image
  const auto same = widen_to_boxes(w, at::Tensor(), 110, 200);
  EXPECT_EQ(same.x0, 50);
  EXPECT_EQ(same.y1, 90);
}

TEST(InputCrop, PaintedMassLandsOnTheMappedBox) {
  auto o = grey_options();
  o.crop_breast.enabled = true;
  o.crop_breast.margin = 6;
  const auto f = film(240, 320, 20, 30, 180, 220);
  const auto prepared = prepare_image(f.image, o);
  EXPECT_EQ(prepared.meta.crop_x, 14);
  EXPECT_EQ(prepared.meta.crop_y, 24);
  EXPECT_EQ(prepared.meta.original_width, 320);
  // The 172 x 202 window is enlarged to fit 400 x 300: scale 300 / 172.
  EXPECT_EQ(prepared.meta.width, 300);
  const auto expected = boxes_to_input(f.mass, prepared.meta);
  EXPECT_TRUE(painted_box(prepared.tensor[0], 175).allclose(expected, 0, 1.0))
      << painted_box(prepared.tensor[0], 175) << expected;
}

TEST(InputCrop, CanonicalSideMirrorsRightBreastsAndMapsBack) {
  auto o = grey_options();
  o.crop_breast.enabled = true;
  o.canonical_side = true;
  const auto right = film(240, 320, 150, 30, 320, 220);
  const auto prepared = prepare_image(right.image, o);
  EXPECT_TRUE(prepared.meta.flipped);
  const auto expected = boxes_to_input(right.mass, prepared.meta);
  EXPECT_TRUE(painted_box(prepared.tensor[0], 175).allclose(expected, 0, 1.0));
  // The breast now touches the left edge: its first columns are grey, the last ones dark.
  EXPECT_GT(prepared.tensor[0].select(1, 0).mean().item<float>(), 50);
  // A flip on top of the canonical mirror undoes it.
  EXPECT_FALSE(prepare_image(right.image, o, /*flip=*/true).meta.flipped);
  const auto left = film(240, 320, 0, 30, 170, 220);
  EXPECT_FALSE(prepare_image(left.image, o).meta.flipped);
}

TEST(InputCrop, GroundTruthOutsideTheBreastWidensTheCrop) {
  auto o = grey_options();
  o.crop_breast.enabled = true;
  o.crop_breast.margin = 0;
  const auto f = film(240, 320, 100, 30, 250, 220);
  const auto far = at::tensor({20.f, 200.f, 40.f, 236.f}).view({1, 4});
  const auto meta = prepare_image(f.image, o, false, far).meta;
  EXPECT_EQ(meta.crop_x, 20);
  EXPECT_EQ(meta.crop_y, 30);
  const auto in = boxes_to_input(far, meta);
  EXPECT_GE(in[0][0].item<float>(), 0);
  EXPECT_LE(in[0][3].item<float>(), static_cast<float>(meta.height) + 1e-3f);
  // Without the box the crop starts at the breast.
  EXPECT_EQ(prepare_image(f.image, o).meta.crop_x, 100);
}

TEST(InputCrop, BoxesToOriginalUndoesBoxesToInput) {
  const auto boxes = at::tensor({10.f, 20.f, 50.f, 80.f, 0.f, 0.f, 7.5f, 3.25f}).view({2, 4});
  ImageMeta m;
  m.original_height = 300;
  m.original_width = 200;
  m.height = 150;
  m.width = 93;
  m.scale_x = 0.61;
  m.scale_y = 0.57;
  for (const bool flipped : {false, true})
    for (const bool vflipped : {false, true})
      for (const double crop : {0.0, 3.0, 7.25}) {
        m.flipped = flipped;
        m.vflipped = vflipped;
        m.crop_x = crop;
        m.crop_y = 2 * crop;
        const auto back = boxes_to_original(boxes_to_input(boxes, m), m);
        EXPECT_TRUE(back.allclose(boxes, 0, 1e-4)) << back;
      }
}

TEST(InputCrop, VerticalFlipMirrorsRows) {
  ImageMeta m;
  m.height = 100;
  m.width = 50;
  m.vflipped = true;
  const auto b = boxes_to_input(at::tensor({1.f, 10.f, 5.f, 30.f}).view({1, 4}), m);
  EXPECT_TRUE(b.equal(at::tensor({1.f, 70.f, 5.f, 90.f}).view({1, 4})));
}

TEST(InputCrop, DefaultsLeaveTheImageWhole) {
  const auto o = detector_options_from_config(default_config()).input;
  EXPECT_FALSE(o.crop_breast.enabled);
  EXPECT_FALSE(o.canonical_side);
  const auto meta = prepare_image(film(120, 160, 0, 10, 90, 110).image, o).meta;
  EXPECT_EQ(meta.crop_x, 0);
  EXPECT_EQ(meta.crop_y, 0);
  EXPECT_FALSE(meta.flipped);
}

TEST(InputCrop, BadKeysAreNamedErrors) {
  for (const std::string bad :
       {"input.crop_breast.margin=-1", "input.crop_breast.threshold=300", "input.flip_prob=1.5"}) {
    Json config = default_config();
    apply_overrides(config, {bad});
    const std::string key = bad.substr(0, bad.find('='));
    try {
      detector_options_from_config(config);
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace mbmd::model
