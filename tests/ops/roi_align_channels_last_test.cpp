// The channels-last (NHWC) RoIAlign forward path, which reads the backbone's and neck's
// channels-last maps without a copy, against the NCHW kernel: the same sums in the same order, so
// the results must be bit-identical.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "mbmd/ops/roi_align.h"

namespace mbmd::ops {
namespace {

at::Tensor random_rois(int64_t count, int64_t batch, double height, double width, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto xy = at::rand({count, 2}, gen) * at::tensor({width, height}, at::kFloat) * 0.9;
  // From sub-pixel boxes to boxes wider than the map (and partly outside it).
  auto wh = at::rand({count, 2}, gen) * at::tensor({width, height}, at::kFloat) * 0.8 + 0.3;
  auto index = at::randint(0, batch, {count, 1}, gen).to(at::kFloat);
  return at::cat({index, xy - 2, xy + wh}, 1);
}

TEST(RoIAlignChannelsLast, MatchesContiguousKernelExactly) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  const auto nchw = at::randn({2, 19, 23, 31}, gen);
  const auto nhwc = nchw.contiguous(at::MemoryFormat::ChannelsLast);
  ASSERT_FALSE(nhwc.is_contiguous());
  const auto rois = random_rois(40, 2, 23 * 8, 31 * 8, 4);
  for (const bool aligned : {false, true}) {
    for (const int64_t sampling : {0, 2}) {
      const auto expected = roi_align(nchw, rois, 7, 5, 0.125, sampling, aligned);
      const auto got = roi_align(nhwc, rois, 7, 5, 0.125, sampling, aligned);
      ASSERT_EQ(got.sizes(), expected.sizes());
      EXPECT_TRUE(at::equal(got, expected))
          << "aligned " << aligned << ", sampling " << sampling << ": max difference "
          << (got - expected).abs().max().item<double>();
      EXPECT_GT(expected.abs().sum().item<double>(), 0.0);
    }
  }
}

TEST(RoIAlignChannelsLast, DoublesAndInferenceModeToo) {
  c10::InferenceMode guard;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  const auto nchw = at::randn({1, 8, 16, 16}, gen).to(at::kDouble);
  const auto rois = random_rois(12, 1, 64, 64, 6).to(at::kDouble);
  const auto expected = roi_align(nchw, rois, 2, 2, 0.25, 0, true);
  const auto got =
      roi_align(nchw.contiguous(at::MemoryFormat::ChannelsLast), rois, 2, 2, 0.25, 0, true);
  EXPECT_TRUE(at::equal(got, expected));
}

TEST(RoIAlignChannelsLast, GradientsMatchContiguousInput) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  const auto base = at::randn({1, 6, 12, 14}, gen);
  const auto rois = random_rois(9, 1, 48, 56, 8);
  auto a = base.clone().set_requires_grad(true);
  auto b = base.contiguous(at::MemoryFormat::ChannelsLast).set_requires_grad(true);
  roi_align(a, rois, 3, 3, 0.25, 2, true).sum().backward();
  roi_align(b, rois, 3, 3, 0.25, 2, true).sum().backward();
  EXPECT_TRUE(at::allclose(a.grad(), b.grad(), 0, 0));
}

}  // namespace
}  // namespace mbmd::ops
