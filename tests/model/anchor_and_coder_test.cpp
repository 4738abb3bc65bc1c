#include <gtest/gtest.h>

#include "mbmd/model/assigner.h"
#include "mbmd/ops/anchor_generator.h"
#include "mbmd/ops/box_coder.h"

namespace mbmd {
namespace {

TEST(AnchorGenerator, MmdetBaseAnchorsAreUnroundedAndCentredOnZero) {
  ops::AnchorGenerator gen(ops::AnchorGeneratorOptions{});
  const auto base = gen.base_anchors(0);  // stride 4, scale 8: side 32
  ASSERT_EQ(base.size(0), 3);
  // ratio 0.5: w = 32 * sqrt(2), h = 32 / sqrt(2)
  EXPECT_NEAR(base[0][0].item<double>(), -16 * std::sqrt(2.0), 1e-4);
  EXPECT_NEAR(base[0][1].item<double>(), -16 / std::sqrt(2.0), 1e-4);
  EXPECT_NEAR(base[1][2].item<double>(), 16, 1e-6);
}

TEST(AnchorGenerator, TorchvisionBaseAnchorsAreRounded) {
  ops::AnchorGeneratorOptions o;
  o.sizes = {32, 64, 128, 256, 512};
  o.round_base = true;
  ops::AnchorGenerator gen(o);
  // torchvision: round([-w, -h, w, h] / 2) with w = 32 * sqrt(2) = 45.25 -> 23, h -> 11.
  const auto base = gen.base_anchors(0);
  EXPECT_EQ(base[0][0].item<float>(), -23);
  EXPECT_EQ(base[0][1].item<float>(), -11);
  EXPECT_EQ(base[0][2].item<float>(), 23);
}

TEST(AnchorGenerator, GridIsLocationMajorAndStrideFromFeatureSizeOption) {
  ops::AnchorGeneratorOptions o;
  o.stride_from_feature_size = true;
  ops::AnchorGenerator gen(o);
  const auto anchors = gen.grid_anchors({{200, 304}, {100, 152}, {50, 76}, {25, 38}, {13, 19}},
                                        {800, 1216}, at::TensorOptions().dtype(at::kFloat));
  ASSERT_EQ(anchors.size(), 5u);
  EXPECT_EQ(anchors[0].size(0), 200 * 304 * 3);
  // Second location of level 0 is shifted by the stride in x only.
  EXPECT_NEAR((anchors[0][3] - anchors[0][0])[0].item<double>(), 4, 1e-6);
  // Fifth level: 800 // 13 = 61 vertically, 1216 // 19 = 64 horizontally (torchvision's rule).
  EXPECT_NEAR((anchors[4][19 * 3] - anchors[4][0])[1].item<double>(), 61, 1e-6);
  EXPECT_NEAR((anchors[4][3] - anchors[4][0])[0].item<double>(), 64, 1e-6);
}

TEST(BoxCoder, EncodeDecodeRoundTripAndClamp) {
  ops::BoxCoder coder({0.1, 0.1, 0.2, 0.2});
  const auto anchors = at::tensor({0.f, 0.f, 10.f, 20.f, 5.f, 5.f, 50.f, 40.f}).view({2, 4});
  const auto gt = at::tensor({1.f, 2.f, 12.f, 18.f, 0.f, 10.f, 30.f, 60.f}).view({2, 4});
  const auto deltas = coder.encode(anchors, gt);
  EXPECT_TRUE(at::allclose(coder.decode(anchors, deltas), gt, 1e-4, 1e-4));
  // A huge dw is clamped at log(1000 / 16): width at most 62.5x the anchor's.
  const auto big = at::tensor({0.f, 0.f, 100.f, 0.f}).view({1, 4});
  const auto boxes = coder.decode(anchors.slice(0, 0, 1), big);
  EXPECT_NEAR((boxes[0][2] - boxes[0][0]).item<double>(), 10 * 1000.0 / 16.0, 1e-2);
}

TEST(Assigner, MaxIouWithLowQualityMatches) {
  const auto gt = at::tensor({0.f, 0.f, 10.f, 10.f}).view({1, 4});
  // IoU with gt: 1.0, 0.5 (half overlap), 0.0, and 0.25 (quarter).
  const auto boxes = at::tensor({0.f, 0.f, 10.f, 10.f, 0.f, 0.f, 10.f, 20.f, 50.f, 50.f, 60.f, 60.f,
                                 5.f, 5.f, 15.f, 15.f})
                         .view({4, 4});
  const auto assigned = model::assign_max_iou(boxes, gt, {0.7, 0.3, 0.3, true});
  EXPECT_EQ(assigned[0].item<int64_t>(), 1);
  EXPECT_EQ(assigned[1].item<int64_t>(), -1);  // between the thresholds: ignored
  EXPECT_EQ(assigned[2].item<int64_t>(), 0);
  EXPECT_LT(assigned[3].item<int64_t>(), 1);
  // Without a good match the best box still becomes positive (low-quality matching).
  const auto only_half = model::assign_max_iou(boxes.slice(0, 1, 3), gt, {0.7, 0.3, 0.3, true});
  EXPECT_EQ(only_half[0].item<int64_t>(), 1);
}

TEST(Sampler, RespectsPositiveFraction) {
  at::manual_seed(0);
  auto assigned = at::zeros({1000}, at::kLong);
  assigned.slice(0, 0, 300).fill_(1);
  const auto s = model::sample_random(assigned, 256, 0.25);
  EXPECT_EQ(s.positive.size(0), 64);
  EXPECT_EQ(s.negative.size(0), 192);
}

}  // namespace
}  // namespace mbmd
