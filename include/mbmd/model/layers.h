// Layers shared by the necks and heads, named as mmdetection names them, each reporting its cost
// to the FLOP counter.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

namespace mbmd::model {

// nn.Conv2d that reports multiply-adds.
class Conv2dImpl : public torch::nn::Conv2dImpl {
 public:
  using torch::nn::Conv2dImpl::Conv2dImpl;
  at::Tensor forward(const at::Tensor& input);
};
TORCH_MODULE(Conv2d);

// nn.Linear that reports multiply-adds.
class LinearImpl : public torch::nn::LinearImpl {
 public:
  using torch::nn::LinearImpl::LinearImpl;
  at::Tensor forward(const at::Tensor& input);
};
TORCH_MODULE(Linear);

// mmcv's ConvModule without norm or activation: a convolution registered as `conv`, so that
// parameter names read `lateral_convs.0.conv.weight` as in mmdetection checkpoints.
class ConvModuleImpl : public torch::nn::Module {
 public:
  ConvModuleImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1);
  at::Tensor forward(const at::Tensor& x) { return conv->forward(x); }

  Conv2d conv{nullptr};
};
TORCH_MODULE(ConvModule);

// Nearest-neighbour upsampling of x [N, C, h, w] to the height and width of `like`, as the
// top-down pathways of mmdetection's necks resize coarse levels.
at::Tensor upsample_nearest_to(const at::Tensor& x, const at::Tensor& like);

// Xavier-uniform weights and zero bias: mmdetection's initialisation of neck convolutions.
void xavier_init(torch::nn::Module& module);

// Normal(0, std) weights and zero bias: mmdetection's initialisation of head outputs.
void normal_init(torch::nn::Module& module, double std);

}  // namespace mbmd::model
