// CUDA kernels of RoIAlign; compiled only against a CUDA LibTorch (MBMD_WITH_CUDA).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace mbmd::ops::cuda {

at::Tensor roi_align_forward(const at::Tensor& input, const at::Tensor& rois, int64_t pooled_h,
                             int64_t pooled_w, double spatial_scale, int64_t sampling_ratio,
                             bool aligned);

at::Tensor roi_align_backward(const at::Tensor& grad_output, const at::Tensor& rois,
                              int64_t pooled_h, int64_t pooled_w, double spatial_scale,
                              int64_t sampling_ratio, bool aligned, int64_t batch, int64_t channels,
                              int64_t height, int64_t width);

}  // namespace mbmd::ops::cuda
