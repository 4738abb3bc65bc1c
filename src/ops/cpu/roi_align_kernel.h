// CPU kernels of RoIAlign (src/ops/roi_align.cpp checks the arguments and dispatches here).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace mbmd::ops::cpu {

// input [N, C, H, W], rois [K, 5] (checked by the caller) -> [K, C, pooled_h, pooled_w].
at::Tensor roi_align_forward(const at::Tensor& input, const at::Tensor& rois, int64_t pooled_h,
                             int64_t pooled_w, double spatial_scale, int64_t sampling_ratio,
                             bool aligned);

// Gradient with respect to the input of shape [batch, channels, height, width], given the gradient
// of the output [K, C, pooled_h, pooled_w].
at::Tensor roi_align_backward(const at::Tensor& grad_output, const at::Tensor& rois,
                              int64_t pooled_h, int64_t pooled_w, double spatial_scale,
                              int64_t sampling_ratio, bool aligned, int64_t batch, int64_t channels,
                              int64_t height, int64_t width);

}  // namespace mbmd::ops::cpu
