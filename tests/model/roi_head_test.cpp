// The box head's inference path over channels-last RoI features (fc0 as a convolution with a
// cached kernel) against the plain linear layers.
#include "mbmd/model/roi_head.h"

#include <gtest/gtest.h>

namespace mbmd::model {
namespace {

double max_difference(const std::pair<at::Tensor, at::Tensor>& a,
                      const std::pair<at::Tensor, at::Tensor>& b) {
  return std::max((a.first - b.first).abs().max().item<double>(),
                  (a.second - b.second).abs().max().item<double>());
}

TEST(BBoxHead, ChannelsLastConvolutionPathEqualsTheLinearLayers) {
  at::manual_seed(3);
  BBoxHead head(16 * 7 * 7, 32, 2, /*background_first=*/false);
  const auto features = at::randn({5, 16, 7, 7});
  const auto channels_last = features.contiguous(at::MemoryFormat::ChannelsLast);
  at::NoGradGuard no_grad;
  const auto linear = head->forward(features);  // NCHW: flatten and the linear layers
  const auto conv = head->forward(channels_last);
  EXPECT_EQ(conv.first.sizes(), linear.first.sizes());
  EXPECT_EQ(conv.second.sizes(), linear.second.sizes());
  EXPECT_LT(max_difference(conv, linear), 1e-5);

  // A changed weight (an optimiser step, a loaded checkpoint) replaces the cached kernel.
  head->fc0->weight.mul_(-0.5);
  const auto linear_after = head->forward(features);
  EXPECT_GT(max_difference(linear_after, linear), 1e-3);
  EXPECT_LT(max_difference(head->forward(channels_last), linear_after), 1e-5);
}

}  // namespace
}  // namespace mbmd::model
