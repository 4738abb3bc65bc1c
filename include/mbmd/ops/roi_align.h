// RoIAlign (He et al., Mask R-CNN) with torchvision.ops.roi_align semantics (torchvision 0.14).
//
// input: [N, C, H, W] feature map (float32 or float64). rois: [K, 5] rows (batch_index, x1, y1,
// x2, y2) in image coordinates, same dtype and device as input; spatial_scale maps them onto the
// map (1 / stride). Each of the pooled_h x pooled_w bins averages sampling_ratio x sampling_ratio
// bilinear samples; sampling_ratio <= 0 means adaptive, ceil(roi_size / pooled_size) per axis.
// aligned = true shifts the box by -0.5 pixel so that sample points sit on pixel centres
// (Detectron2, mmdetection's default); aligned = false keeps the legacy behaviour and forces boxes
// to at least 1x1. Returns [K, C, pooled_h, pooled_w], differentiable with respect to input (not
// rois). Bad shapes, dtypes, devices or batch indices raise mbmd::Error.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace mbmd::ops {

at::Tensor roi_align(const at::Tensor& input, const at::Tensor& rois, int64_t pooled_h,
                     int64_t pooled_w, double spatial_scale, int64_t sampling_ratio, bool aligned);

}  // namespace mbmd::ops
