// Layers shared by the necks and heads, named as mmdetection names them, each reporting its cost
// to the FLOP counter.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "mbmd/model/norm.h"

namespace mbmd::model {

// nn.Conv2d that reports multiply-adds, optionally with Weight Standardisation (mmcv's
// ConvWS2d: the parameter stays as stored, the convolution sees it standardised).
class Conv2dImpl : public torch::nn::Conv2dImpl {
 public:
  using torch::nn::Conv2dImpl::Conv2dImpl;
  at::Tensor forward(const at::Tensor& input);

  // The weight the convolution applies: standardised or as stored.
  at::Tensor effective_weight() const;

  bool standardised = false;
};
TORCH_MODULE(Conv2d);

// nn.Linear that reports multiply-adds.
class LinearImpl : public torch::nn::LinearImpl {
 public:
  using torch::nn::LinearImpl::LinearImpl;
  at::Tensor forward(const at::Tensor& input);
};
TORCH_MODULE(Linear);

// mmcv's ConvModule: a convolution registered as `conv`, so that parameter names read
// `lateral_convs.0.conv.weight` as in mmdetection checkpoints; optionally a norm after it
// (`bn` or `gn`; the convolution then has no bias, and Weight Standardisation if the norm asks
// for it) and a ReLU.
class ConvModuleImpl : public torch::nn::Module {
 public:
  ConvModuleImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1,
                 const NormOptions& norm = {}, bool relu = false);
  at::Tensor forward(const at::Tensor& x) { return after_conv(conv->forward(x)); }

  // The norm and activation applied to a convolution's output (identity without them).
  at::Tensor after_conv(const at::Tensor& x);

  Conv2d conv{nullptr};
  Norm norm;

 private:
  bool relu_ = false;
};
TORCH_MODULE(ConvModule);

// Nearest-neighbour upsampling of x [N, C, h, w] to the height and width of `like`, as the
// top-down pathways of mmdetection's necks resize coarse levels.
at::Tensor upsample_nearest_to(const at::Tensor& x, const at::Tensor& like);

// Xavier-uniform weights and zero bias: mmdetection's initialisation of neck convolutions.
void xavier_init(torch::nn::Module& module);

// Normal(0, std) weights and zero bias: mmdetection's initialisation of head outputs.
void normal_init(torch::nn::Module& module, double std);

// Kaiming-normal (fan_out, ReLU) weights and zero bias: mmcv's ConvModule initialisation when a
// ReLU follows.
void kaiming_init(torch::nn::Module& module);

// ReLU in place, counted as mmcv counts an nn.ReLU module (one operation per element).
at::Tensor counted_relu(const at::Tensor& x);

}  // namespace mbmd::model
