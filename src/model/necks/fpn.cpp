#include "mbmd/model/necks/fpn.h"

#include <torch/nn/functional/pooling.h>

#include "mbmd/core/error.h"

namespace mbmd::model {

namespace F = torch::nn::functional;

namespace {

void check_inputs(const std::vector<at::Tensor>& inputs, size_t expected) {
  if (inputs.size() != expected)
    throw Error("neck expects " + std::to_string(expected) + " feature maps, got " +
                std::to_string(inputs.size()));
}

}  // namespace

TopDownNeckImpl::TopDownNeckImpl(const std::vector<int64_t>& in_channels, int64_t out_channels,
                                 const NormOptions& norm) {
  if (in_channels.size() != 4) throw Error("FPN expects four input levels (C2..C5)");
  auto lateral_list = register_module("lateral_convs", torch::nn::ModuleList());
  auto fpn_list = register_module("fpn_convs", torch::nn::ModuleList());
  for (auto c : in_channels) {
    lateral_convs_.emplace_back(c, out_channels, 1, 1, norm);
    lateral_list->push_back(lateral_convs_.back());
    fpn_convs_.emplace_back(out_channels, out_channels, 3, 1, norm);
    fpn_list->push_back(fpn_convs_.back());
  }
}

std::vector<at::Tensor> TopDownNeckImpl::top_down(const std::vector<at::Tensor>& inputs) {
  check_inputs(inputs, lateral_convs_.size());
  std::vector<at::Tensor> laterals;
  for (size_t i = 0; i < inputs.size(); ++i) laterals.push_back(lateral_convs_[i](inputs[i]));
  for (size_t i = laterals.size() - 1; i > 0; --i)
    laterals[i - 1] = laterals[i - 1] + upsample_nearest_to(laterals[i], laterals[i - 1]);
  std::vector<at::Tensor> outs;
  for (size_t i = 0; i < laterals.size(); ++i) outs.push_back(fpn_convs_[i](laterals[i]));
  return outs;
}

void TopDownNeckImpl::add_pooled_level(std::vector<at::Tensor>& levels) {
  levels.push_back(F::max_pool2d(levels.back(), F::MaxPool2dFuncOptions(1).stride(2)));
}

FPNImpl::FPNImpl(const std::vector<int64_t>& in_channels, int64_t out_channels,
                 const NormOptions& norm)
    : TopDownNeckImpl(in_channels, out_channels, norm) {}

std::vector<at::Tensor> FPNImpl::forward(const std::vector<at::Tensor>& inputs) {
  auto outs = top_down(inputs);
  add_pooled_level(outs);
  return outs;
}

}  // namespace mbmd::model
