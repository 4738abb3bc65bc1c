#include "mbmd/model/layers.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/upsampling.h>
#include <torch/nn/init.h>

#include "mbmd/model/flop_counter.h"

namespace mbmd::model {

at::Tensor Conv2dImpl::forward(const at::Tensor& input) {
  auto output = standardised ? _conv_forward(input, effective_weight())
                             : torch::nn::Conv2dImpl::forward(input);
  flops::conv(weight, bias.defined(), output);
  return output;
}

at::Tensor Conv2dImpl::effective_weight() const {
  return standardised ? standardise_weight(weight) : weight;
}

at::Tensor LinearImpl::forward(const at::Tensor& input) {
  auto output = torch::nn::LinearImpl::forward(input);
  flops::linear(input, output, bias.defined());
  return output;
}

ConvModuleImpl::ConvModuleImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                               const NormOptions& norm_options, bool relu)
    : relu_(relu) {
  const bool with_norm = norm_options.kind != NormKind::none;
  conv = register_module("conv", Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                                            .stride(stride)
                                            .padding(kernel / 2)
                                            .bias(!with_norm)));
  conv->standardised = with_norm && norm_options.weight_standardisation;
  if (relu)
    kaiming_init(*conv);
  else
    xavier_init(*conv);
  if (with_norm) {
    norm = Norm(norm_options, out);
    register_module(norm_name(norm_options.kind, ""), norm.module());
  }
}

at::Tensor ConvModuleImpl::after_conv(const at::Tensor& x) {
  auto out = norm ? norm.forward(x) : x;
  return relu_ ? counted_relu(out) : out;
}

at::Tensor upsample_nearest_to(const at::Tensor& x, const at::Tensor& like) {
  namespace F = torch::nn::functional;
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{like.size(2), like.size(3)})
                               .mode(torch::kNearest));
}

namespace {

// Fills every parameter named "...weight" with `fill_weight` and zeroes the others (biases).
template <typename FillWeight>
void init_weights_zero_biases(torch::nn::Module& module, FillWeight fill_weight) {
  torch::NoGradGuard guard;
  for (auto& item : module.named_parameters()) {
    const auto& name = item.key();
    auto& p = item.value();
    if (name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0)
      fill_weight(p);
    else
      p.zero_();
  }
}

}  // namespace

void xavier_init(torch::nn::Module& module) {
  init_weights_zero_biases(module, [](at::Tensor& w) { torch::nn::init::xavier_uniform_(w); });
}

void normal_init(torch::nn::Module& module, double std) {
  init_weights_zero_biases(module, [std](at::Tensor& w) { w.normal_(0, std); });
}

void kaiming_init(torch::nn::Module& module) {
  init_weights_zero_biases(module, [](at::Tensor& w) {
    torch::nn::init::kaiming_normal_(w, 0.0, torch::kFanOut, torch::kReLU);
  });
}

at::Tensor counted_relu(const at::Tensor& x) {
  namespace F = torch::nn::functional;
  auto out = F::relu(x, F::ReLUFuncOptions().inplace(true));
  flops::elements(out);
  return out;
}

}  // namespace mbmd::model
