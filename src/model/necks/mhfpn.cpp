#include "mbmd/model/necks/mhfpn.h"

#include <torch/nn/functional/pooling.h>

#include "mbmd/model/flop_counter.h"

namespace mbmd::model {

namespace F = torch::nn::functional;

namespace {

// Kernel-2 stride-2 max pooling; ceil mode keeps the level size equal to FPN's (ceil(size /
// stride)) when a size is odd, and is exact for inputs padded to a multiple of 32.
at::Tensor halve(const at::Tensor& x) {
  return F::max_pool2d(x, F::MaxPool2dFuncOptions(2).stride(2).ceil_mode(true));
}

}  // namespace

MHFPNImpl::MHFPNImpl(const std::vector<int64_t>& in_channels, int64_t out_channels,
                     const NormOptions& norm)
    : PAFPNImpl(in_channels, out_channels, norm) {
  // One 1x1 reduction (2C -> C, bias, no activation) shared by both heads.
  reduction_conv =
      register_module("reduction_conv", ConvModule(2 * out_channels, out_channels, 1, 1, norm));
}

at::Tensor MHFPNImpl::aggregate_by_concatenation(const at::Tensor& fine, const at::Tensor& coarse) {
  return reduction_conv(at::cat({fine, upsample_nearest_to(coarse, fine)}, 1));
}

// Eq. 1 computed without the 2C-channel concatenation at the fine resolution: a 1x1 convolution
// is per pixel and nearest upsampling copies pixels, so conv(cat(f, up(c))) =
// conv_f(f) + up(conv_c(c)) with the weight split by input channel. The coarse half then runs at
// a quarter of the positions. Counted as mmdetection counts the module it replaces.
at::Tensor MHFPNImpl::aggregate(const at::Tensor& fine, const at::Tensor& coarse) {
  const auto& conv = reduction_conv->conv;
  const auto weight = conv->effective_weight();
  const int64_t c = fine.size(1);
  auto out = at::conv2d(fine, weight.slice(1, 0, c), conv->bias);
  out = out + upsample_nearest_to(at::conv2d(coarse, weight.slice(1, c)), out);
  flops::conv(conv->weight, conv->bias.defined(), out);
  return reduction_conv->after_conv(out);
}

std::vector<at::Tensor> MHFPNImpl::forward(const std::vector<at::Tensor>& inputs) {
  auto levels = top_down(inputs);
  bottom_up(levels);
  const auto small_head = aggregate(levels[0], levels[1]);  // stride 4
  const auto large_head = aggregate(levels[2], levels[3]);  // stride 16
  // Eq. 2: pafpn_convs.0 serves both stride-4 and stride-8 outputs of the small-mass head.
  std::vector<at::Tensor> outs{pafpn_convs_[0](small_head), pafpn_convs_[0](halve(small_head)),
                               pafpn_convs_[1](large_head), pafpn_convs_[2](halve(large_head))};
  add_pooled_level(outs);
  return outs;
}

}  // namespace mbmd::model
