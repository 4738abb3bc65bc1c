// Counts multiply-adds the way mmdetection 2.x's get_flops (mmcv's flops counter) does: convolution
// and linear layers (bias included), plus element counts of the BatchNorm, ReLU and pooling
// *modules* (functional calls such as F.interpolate are not counted by mmcv, so not here either).
// Layers report to the counter only while a FlopCountScope is alive on the calling thread.
#pragma once

#include <ATen/ATen.h>

namespace mbmd::model {

class FlopCountScope {
 public:
  FlopCountScope();
  ~FlopCountScope();
  FlopCountScope(const FlopCountScope&) = delete;
  FlopCountScope& operator=(const FlopCountScope&) = delete;

  double flops() const { return flops_; }
  void add(double count) { flops_ += count; }

 private:
  double flops_ = 0;
  FlopCountScope* previous_;
};

namespace flops {

bool counting();
void add(double count);
// A convolution with `weight` [out, in / groups, kh, kw] that produced `output`.
void conv(const at::Tensor& weight, bool has_bias, const at::Tensor& output);
// A linear layer: input.numel() * out_features (+ out_features for the bias, once, as mmcv).
void linear(const at::Tensor& input, const at::Tensor& output, bool has_bias);
// Element-wise modules: mmcv counts output elements (ReLU), input elements (pooling) and twice
// the input elements for an affine BatchNorm.
void elements(const at::Tensor& t, double per_element = 1.0);

}  // namespace flops
}  // namespace mbmd::model
