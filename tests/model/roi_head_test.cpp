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

RoIOptions small_head(const std::string& type) {
  RoIOptions options;
  options.fc_channels = 32;
  options.head = type;
  options.conv_channels = 8;
  options.norm.kind = NormKind::group;
  options.norm.groups = 4;
  return options;
}

TEST(BBoxHead, ChannelsLastConvolutionPathEqualsTheLinearLayers) {
  at::manual_seed(3);
  BBoxHead head(small_head("2fc"), 16, 2);
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

// The 4conv1fc head keeps channels-last features through its convolutions, so its first FC takes
// the convolution path too; both paths give the same outputs.
TEST(BBoxHead, FourConvHeadGivesTheSameOutputsInBothLayouts) {
  at::manual_seed(4);
  BBoxHead head(small_head("4conv1fc"), 16, 2);
  EXPECT_EQ(head->convs.size(), 4u);
  EXPECT_FALSE(head->fc1);
  const auto features = at::randn({5, 16, 7, 7});
  at::NoGradGuard no_grad;
  const auto linear = head->forward(features);
  const auto conv = head->forward(features.contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_EQ(linear.first.sizes(), (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(linear.second.sizes(), (std::vector<int64_t>{5, 8}));
  EXPECT_LT(max_difference(conv, linear), 1e-4);
}

}  // namespace
}  // namespace mbmd::model
