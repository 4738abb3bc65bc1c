#include "mbmd/model/necks/pafpn.h"

namespace mbmd::model {

PAFPNImpl::PAFPNImpl(const std::vector<int64_t>& in_channels, int64_t out_channels,
                     const NormOptions& norm)
    : TopDownNeckImpl(in_channels, out_channels, norm) {
  auto downsample_list = register_module("downsample_convs", torch::nn::ModuleList());
  auto pafpn_list = register_module("pafpn_convs", torch::nn::ModuleList());
  for (size_t i = 0; i + 1 < in_channels.size(); ++i) {
    downsample_convs_.emplace_back(out_channels, out_channels, 3, 2, norm);
    downsample_list->push_back(downsample_convs_.back());
    pafpn_convs_.emplace_back(out_channels, out_channels, 3, 1, norm);
    pafpn_list->push_back(pafpn_convs_.back());
  }
}

void PAFPNImpl::bottom_up(std::vector<at::Tensor>& levels) {
  for (size_t i = 0; i + 1 < levels.size(); ++i)
    levels[i + 1] = levels[i + 1] + downsample_convs_[i](levels[i]);
}

std::vector<at::Tensor> PAFPNImpl::forward(const std::vector<at::Tensor>& inputs) {
  auto inter = top_down(inputs);
  bottom_up(inter);
  std::vector<at::Tensor> outs{inter[0]};
  for (size_t i = 1; i < inter.size(); ++i) outs.push_back(pafpn_convs_[i - 1](inter[i]));
  add_pooled_level(outs);
  return outs;
}

}  // namespace mbmd::model
