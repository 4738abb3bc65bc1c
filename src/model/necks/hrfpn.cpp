#include "mbmd/model/necks/hrfpn.h"

#include <torch/nn/functional/pooling.h>
#include <torch/nn/functional/upsampling.h>

#include "mbmd/core/error.h"

namespace mbmd::model {

namespace F = torch::nn::functional;

HRFPNImpl::HRFPNImpl(const std::vector<int64_t>& in_channels, int64_t out_channels,
                     const NormOptions& norm) {
  if (in_channels.size() != 4) throw Error("HRFPN expects four input levels (C2..C5)");
  int64_t total = 0;
  for (auto c : in_channels) total += c;
  reduction_conv = register_module("reduction_conv", ConvModule(total, out_channels, 1, 1, norm));
  auto list = register_module("fpn_convs", torch::nn::ModuleList());
  for (int i = 0; i < 5; ++i) {
    fpn_convs_.emplace_back(out_channels, out_channels, 3, 1, norm);
    list->push_back(fpn_convs_.back());
  }
}

std::vector<at::Tensor> HRFPNImpl::forward(const std::vector<at::Tensor>& inputs) {
  if (inputs.size() != 4) throw Error("HRFPN expects four feature maps");
  std::vector<at::Tensor> parts{inputs[0]};
  const std::vector<int64_t> size{inputs[0].size(2), inputs[0].size(3)};
  // mmdetection upsamples by 2^i (bilinear, align_corners false); the explicit size equals that
  // for inputs padded to a multiple of 32 and keeps odd sizes working.
  for (size_t i = 1; i < inputs.size(); ++i)
    parts.push_back(F::interpolate(
        inputs[i],
        F::InterpolateFuncOptions().size(size).mode(torch::kBilinear).align_corners(false)));
  const auto reduced = reduction_conv(at::cat(parts, 1));
  std::vector<at::Tensor> outs{fpn_convs_[0](reduced)};
  for (int i = 1; i < 5; ++i) {
    const int64_t k = int64_t{1} << i;
    outs.push_back(fpn_convs_[i](
        F::avg_pool2d(reduced, F::AvgPool2dFuncOptions({k, k}).stride({k, k}).ceil_mode(true))));
  }
  return outs;
}

}  // namespace mbmd::model
