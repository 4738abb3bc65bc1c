#include "mbmd/model/layers.h"

#include <torch/nn/functional/upsampling.h>
#include <torch/nn/init.h>

#include "mbmd/model/flop_counter.h"

namespace mbmd::model {

at::Tensor Conv2dImpl::forward(const at::Tensor& input) {
  auto output = torch::nn::Conv2dImpl::forward(input);
  flops::conv(weight, bias.defined(), output);
  return output;
}

at::Tensor LinearImpl::forward(const at::Tensor& input) {
  auto output = torch::nn::LinearImpl::forward(input);
  flops::linear(input, output, bias.defined());
  return output;
}

ConvModuleImpl::ConvModuleImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  conv = register_module(
      "conv", Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2)));
  xavier_init(*conv);
}

at::Tensor upsample_nearest_to(const at::Tensor& x, const at::Tensor& like) {
  namespace F = torch::nn::functional;
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{like.size(2), like.size(3)})
                               .mode(torch::kNearest));
}

void xavier_init(torch::nn::Module& module) {
  torch::NoGradGuard guard;
  for (auto& item : module.named_parameters()) {
    const auto& name = item.key();
    auto& p = item.value();
    if (name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0)
      torch::nn::init::xavier_uniform_(p);
    else
      p.zero_();
  }
}

void normal_init(torch::nn::Module& module, double std) {
  torch::NoGradGuard guard;
  for (auto& item : module.named_parameters()) {
    const auto& name = item.key();
    auto& p = item.value();
    if (name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0)
      p.normal_(0, std);
    else
      p.zero_();
  }
}

}  // namespace mbmd::model
