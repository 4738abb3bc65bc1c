#include <torch/nn/functional/pooling.h>
#include <torch/nn/functional/upsampling.h>

#include "mbmd/core/error.h"
#include "mbmd/model/neck.h"

namespace mbmd::model {

namespace F = torch::nn::functional;

namespace {

// Adjacent levels joined for one aggregation head (Eq. 1): the coarser one is upsampled (nearest)
// to the finer one's explicit size, so odd sizes work.
at::Tensor join_adjacent(const at::Tensor& fine, const at::Tensor& coarse) {
  auto up = F::interpolate(coarse, F::InterpolateFuncOptions()
                                       .size(std::vector<int64_t>{fine.size(2), fine.size(3)})
                                       .mode(torch::kNearest));
  return at::cat({fine, up}, 1);
}

// Kernel-2 stride-2 max pooling; ceil mode keeps the level size equal to FPN's (ceil(size /
// stride)) when a size is odd, and is exact for inputs padded to a multiple of 32.
at::Tensor halve(const at::Tensor& x) {
  return F::max_pool2d(x, F::MaxPool2dFuncOptions(2).stride(2).ceil_mode(true));
}

}  // namespace

MHFPNImpl::MHFPNImpl(const std::vector<int64_t>& in_channels, int64_t out_channels)
    : PAFPNImpl(in_channels, out_channels) {
  // One 1x1 reduction (2C -> C, bias, no activation) shared by both heads.
  reduction_conv = register_module("reduction_conv", ConvModule(2 * out_channels, out_channels, 1));
}

std::vector<at::Tensor> MHFPNImpl::forward(const std::vector<at::Tensor>& inputs) {
  auto levels = top_down(inputs);
  bottom_up(levels);
  const auto small_head = reduction_conv(join_adjacent(levels[0], levels[1]));  // stride 4
  const auto large_head = reduction_conv(join_adjacent(levels[2], levels[3]));  // stride 16
  // Eq. 2: pafpn_convs.0 serves both stride-4 and stride-8 outputs of the small-mass head.
  std::vector<at::Tensor> outs{pafpn_convs_[0](small_head), pafpn_convs_[0](halve(small_head)),
                               pafpn_convs_[1](large_head), pafpn_convs_[2](halve(large_head))};
  outs.push_back(F::max_pool2d(outs.back(), F::MaxPool2dFuncOptions(1).stride(2)));
  return outs;
}

}  // namespace mbmd::model
