// Geometry and bilinear weights of RoIAlign, shared by the CPU and CUDA kernels so that both follow
// torchvision's arithmetic step by step (same operations in the same order and precision, which is
// what keeps float32 results within rounding of the reference).
#pragma once

#include <c10/macros/Macros.h>

#include <cmath>
#include <cstdint>

namespace mbmd::ops::detail {

// Where one RoI's bins and sample points lie on the feature map.
template <typename T>
struct RoiGeometry {
  int64_t batch_index;
  T start_h;
  T start_w;
  T bin_h;
  T bin_w;
  int64_t grid_h;  // samples per bin vertically (>= 0)
  int64_t grid_w;  // samples per bin horizontally (>= 0)
  T count;         // divisor of the bin average: max(grid_h * grid_w, 1)
};

template <typename T>
C10_HOST_DEVICE inline RoiGeometry<T> roi_geometry(const T* roi, T spatial_scale, int64_t pooled_h,
                                                   int64_t pooled_w, int64_t sampling_ratio,
                                                   bool aligned) {
  RoiGeometry<T> g;
  // The batch index is stored as a float; torchvision truncates it.
  g.batch_index = static_cast<int64_t>(roi[0]);
  // Half-pixel shift: with aligned = true a box [0, 1] covers exactly the first pixel, whose centre
  // is at 0.5 in continuous coordinates (Detectron2's ROIAlignV2). No rounding anywhere.
  const T offset = aligned ? static_cast<T>(0.5) : static_cast<T>(0);
  g.start_w = roi[1] * spatial_scale - offset;
  g.start_h = roi[2] * spatial_scale - offset;
  const T end_w = roi[3] * spatial_scale - offset;
  const T end_h = roi[4] * spatial_scale - offset;
  T roi_w = end_w - g.start_w;
  T roi_h = end_h - g.start_h;
  if (!aligned) {
    // Legacy behaviour: malformed boxes are forced to 1x1.
    roi_w = roi_w > static_cast<T>(1) ? roi_w : static_cast<T>(1);
    roi_h = roi_h > static_cast<T>(1) ? roi_h : static_cast<T>(1);
  }
  g.bin_h = roi_h / static_cast<T>(pooled_h);
  g.bin_w = roi_w / static_cast<T>(pooled_w);
  // Adaptive sampling: ceil(roi size / pooled size) samples per bin. A box with negative size
  // (possible when aligned) gets no samples and pools to zero; torchvision 0.14 fails on such a box
  // when only one side is negative ("cannot create std::vector larger than max_size()").
  int64_t grid_h = sampling_ratio > 0
                       ? sampling_ratio
                       : static_cast<int64_t>(::ceil(roi_h / static_cast<T>(pooled_h)));
  int64_t grid_w = sampling_ratio > 0
                       ? sampling_ratio
                       : static_cast<int64_t>(::ceil(roi_w / static_cast<T>(pooled_w)));
  g.grid_h = grid_h > 0 ? grid_h : 0;
  g.grid_w = grid_w > 0 ? grid_w : 0;
  const int64_t samples = g.grid_h * g.grid_w;
  g.count = static_cast<T>(samples > 1 ? samples : 1);
  return g;
}

// The four pixels around a sample point and their bilinear weights; valid = false when the point
// lies more than one pixel outside the map (it then contributes nothing).
template <typename T>
struct BilinearTap {
  bool valid;
  int64_t
      offset[4];  // y * width + x of the (low, low), (low, high), (high, low), (high, high) pixels
  T weight[4];
};

template <typename T>
C10_HOST_DEVICE inline BilinearTap<T> bilinear_tap(int64_t height, int64_t width, T y, T x) {
  BilinearTap<T> tap;
  // Written as !(inside) so that NaN coordinates count as outside.
  if (!(y >= static_cast<T>(-1) && y <= static_cast<T>(height) && x >= static_cast<T>(-1) &&
        x <= static_cast<T>(width))) {
    tap.valid = false;
    for (int k = 0; k < 4; ++k) {
      tap.offset[k] = 0;
      tap.weight[k] = static_cast<T>(0);
    }
    return tap;
  }
  // Points up to one pixel outside are clamped onto the border (torchvision's rule).
  if (y <= static_cast<T>(0)) y = static_cast<T>(0);
  if (x <= static_cast<T>(0)) x = static_cast<T>(0);
  int64_t y_low = static_cast<int64_t>(y);
  int64_t x_low = static_cast<int64_t>(x);
  int64_t y_high;
  int64_t x_high;
  if (y_low >= height - 1) {
    y_high = y_low = height - 1;
    y = static_cast<T>(y_low);
  } else {
    y_high = y_low + 1;
  }
  if (x_low >= width - 1) {
    x_high = x_low = width - 1;
    x = static_cast<T>(x_low);
  } else {
    x_high = x_low + 1;
  }
  const T ly = y - static_cast<T>(y_low);
  const T lx = x - static_cast<T>(x_low);
  const T hy = static_cast<T>(1) - ly;
  const T hx = static_cast<T>(1) - lx;
  tap.valid = true;
  tap.offset[0] = y_low * width + x_low;
  tap.offset[1] = y_low * width + x_high;
  tap.offset[2] = y_high * width + x_low;
  tap.offset[3] = y_high * width + x_high;
  tap.weight[0] = hy * hx;
  tap.weight[1] = hy * lx;
  tap.weight[2] = ly * hx;
  tap.weight[3] = ly * lx;
  return tap;
}

// Continuous coordinate of sample `i` (of `grid`) in bin `p`: the sample points sit at the centres
// of a grid x grid subdivision of the bin.
template <typename T>
C10_HOST_DEVICE inline T sample_coordinate(T start, T bin, int64_t p, int64_t i, int64_t grid) {
  return start + static_cast<T>(p) * bin +
         static_cast<T>(static_cast<float>(i) + 0.5f) * bin / static_cast<T>(grid);
}

}  // namespace mbmd::ops::detail
