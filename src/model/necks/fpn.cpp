#include <torch/nn/functional/pooling.h>
#include <torch/nn/functional/upsampling.h>

#include "mbmd/core/error.h"
#include "mbmd/model/neck.h"

namespace mbmd::model {

namespace F = torch::nn::functional;

namespace {

at::Tensor upsample_nearest_to(const at::Tensor& x, const at::Tensor& like) {
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{like.size(2), like.size(3)})
                               .mode(torch::kNearest));
}

void check_inputs(const std::vector<at::Tensor>& inputs, size_t expected) {
  if (inputs.size() != expected)
    throw Error("neck expects " + std::to_string(expected) + " feature maps, got " +
                std::to_string(inputs.size()));
}

}  // namespace

FPNImpl::FPNImpl(const std::vector<int64_t>& in_channels, int64_t out_channels) {
  if (in_channels.size() != 4) throw Error("FPN expects four input levels (C2..C5)");
  lateral_list_ = register_module("lateral_convs", torch::nn::ModuleList());
  fpn_list_ = register_module("fpn_convs", torch::nn::ModuleList());
  for (auto c : in_channels) {
    lateral_convs_.emplace_back(c, out_channels, 1);
    lateral_list_->push_back(lateral_convs_.back());
    fpn_convs_.emplace_back(out_channels, out_channels, 3);
    fpn_list_->push_back(fpn_convs_.back());
  }
}

std::vector<at::Tensor> FPNImpl::top_down(const std::vector<at::Tensor>& inputs) {
  check_inputs(inputs, lateral_convs_.size());
  std::vector<at::Tensor> laterals;
  for (size_t i = 0; i < inputs.size(); ++i) laterals.push_back(lateral_convs_[i](inputs[i]));
  for (size_t i = laterals.size() - 1; i > 0; --i)
    laterals[i - 1] = laterals[i - 1] + upsample_nearest_to(laterals[i], laterals[i - 1]);
  std::vector<at::Tensor> outs;
  for (size_t i = 0; i < laterals.size(); ++i) outs.push_back(fpn_convs_[i](laterals[i]));
  return outs;
}

void FPNImpl::bottom_up(std::vector<at::Tensor>& levels) {
  for (size_t i = 0; i + 1 < levels.size(); ++i)
    levels[i + 1] = levels[i + 1] + downsample_convs_[i](levels[i]);
}

std::vector<at::Tensor> FPNImpl::forward(const std::vector<at::Tensor>& inputs) {
  auto outs = top_down(inputs);
  outs.push_back(F::max_pool2d(outs.back(), F::MaxPool2dFuncOptions(1).stride(2)));
  return outs;
}

PAFPNImpl::PAFPNImpl(const std::vector<int64_t>& in_channels, int64_t out_channels)
    : FPNImpl(in_channels, out_channels) {
  auto downsample_list = register_module("downsample_convs", torch::nn::ModuleList());
  auto pafpn_list = register_module("pafpn_convs", torch::nn::ModuleList());
  for (size_t i = 0; i + 1 < in_channels.size(); ++i) {
    downsample_convs_.emplace_back(out_channels, out_channels, 3, 2);
    downsample_list->push_back(downsample_convs_.back());
    pafpn_convs_.emplace_back(out_channels, out_channels, 3);
    pafpn_list->push_back(pafpn_convs_.back());
  }
}

std::vector<at::Tensor> PAFPNImpl::forward(const std::vector<at::Tensor>& inputs) {
  auto inter = top_down(inputs);
  bottom_up(inter);
  std::vector<at::Tensor> outs{inter[0]};
  for (size_t i = 1; i < inter.size(); ++i) outs.push_back(pafpn_convs_[i - 1](inter[i]));
  outs.push_back(F::max_pool2d(outs.back(), F::MaxPool2dFuncOptions(1).stride(2)));
  return outs;
}

std::shared_ptr<NeckImpl> make_neck(const std::string& type,
                                    const std::vector<int64_t>& in_channels, int64_t out_channels) {
  if (type == "fpn") return std::make_shared<FPNImpl>(in_channels, out_channels);
  if (type == "pafpn") return std::make_shared<PAFPNImpl>(in_channels, out_channels);
  if (type == "hrfpn") return std::make_shared<HRFPNImpl>(in_channels, out_channels);
  if (type == "mhfpn") return std::make_shared<MHFPNImpl>(in_channels, out_channels);
  throw Error("model.neck.type: unknown neck '" + type + "' (choose fpn, pafpn, hrfpn or mhfpn)");
}

}  // namespace mbmd::model
