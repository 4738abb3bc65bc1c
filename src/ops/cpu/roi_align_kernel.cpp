// RoIAlign on the CPU, templated on the scalar type. The forward pass runs in parallel over RoIs
// (each writes its own output rows); the backward pass runs in parallel over channels, because RoIs
// of the same image scatter into the same input pixels while different channels never collide, and
// it keeps the summation order of torchvision's serial loop (RoI, bin, sample).
#include "roi_align_kernel.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "mbmd/core/error.h"
#include "roi_align_common.h"

namespace mbmd::ops::cpu {
namespace {

// Bilinear taps of every sample of one RoI, in (bin row, bin column, sample row, sample column)
// order; they are shared by all channels.
template <typename T>
void compute_taps(const detail::RoiGeometry<T>& g, int64_t height, int64_t width, int64_t pooled_h,
                  int64_t pooled_w, std::vector<detail::BilinearTap<T>>& taps) {
  taps.clear();
  taps.reserve(static_cast<size_t>(pooled_h * pooled_w * g.grid_h * g.grid_w));
  for (int64_t ph = 0; ph < pooled_h; ++ph) {
    for (int64_t pw = 0; pw < pooled_w; ++pw) {
      for (int64_t iy = 0; iy < g.grid_h; ++iy) {
        const T y = detail::sample_coordinate(g.start_h, g.bin_h, ph, iy, g.grid_h);
        for (int64_t ix = 0; ix < g.grid_w; ++ix) {
          const T x = detail::sample_coordinate(g.start_w, g.bin_w, pw, ix, g.grid_w);
          taps.push_back(detail::bilinear_tap(height, width, y, x));
        }
      }
    }
  }
}

template <typename T>
void forward_impl(const T* input, const T* rois, T* output, int64_t num_rois, int64_t channels,
                  int64_t height, int64_t width, int64_t pooled_h, int64_t pooled_w,
                  T spatial_scale, int64_t sampling_ratio, bool aligned) {
  const int64_t bins = pooled_h * pooled_w;
  at::parallel_for(0, num_rois, 1, [&](int64_t begin, int64_t end) {
    std::vector<detail::BilinearTap<T>> taps;
    for (int64_t n = begin; n < end; ++n) {
      const auto g = detail::roi_geometry(rois + n * 5, spatial_scale, pooled_h, pooled_w,
                                          sampling_ratio, aligned);
      compute_taps(g, height, width, pooled_h, pooled_w, taps);
      const int64_t samples = g.grid_h * g.grid_w;
      for (int64_t c = 0; c < channels; ++c) {
        const T* plane = input + (g.batch_index * channels + c) * height * width;
        T* out = output + (n * channels + c) * bins;
        const detail::BilinearTap<T>* tap = taps.data();
        for (int64_t bin = 0; bin < bins; ++bin) {
          T sum = 0;
          for (int64_t s = 0; s < samples; ++s, ++tap) {
            if (!tap->valid) continue;
            sum += tap->weight[0] * plane[tap->offset[0]] + tap->weight[1] * plane[tap->offset[1]] +
                   tap->weight[2] * plane[tap->offset[2]] + tap->weight[3] * plane[tap->offset[3]];
          }
          out[bin] = sum / g.count;  // average over the bin's samples
        }
      }
    }
  });
}

// The same forward pass on a channels-last (NHWC) input, as the backbone and neck produce it: the
// four taps of a sample are rows of `channels` contiguous values, so the inner loop runs over
// channels. Each output value is summed in the same order as forward_impl (samples of its bin,
// taps 0..3), so both layouts give identical results.
template <typename T>
void forward_channels_last_impl(const T* input, const T* rois, T* output, int64_t num_rois,
                                int64_t channels, int64_t height, int64_t width, int64_t pooled_h,
                                int64_t pooled_w, T spatial_scale, int64_t sampling_ratio,
                                bool aligned) {
  const int64_t bins = pooled_h * pooled_w;
  at::parallel_for(0, num_rois, 1, [&](int64_t begin, int64_t end) {
    std::vector<detail::BilinearTap<T>> taps;
    for (int64_t n = begin; n < end; ++n) {
      const auto g = detail::roi_geometry(rois + n * 5, spatial_scale, pooled_h, pooled_w,
                                          sampling_ratio, aligned);
      compute_taps(g, height, width, pooled_h, pooled_w, taps);
      const int64_t samples = g.grid_h * g.grid_w;
      const T* image = input + g.batch_index * height * width * channels;
      T* out = output + n * channels * bins;
      const detail::BilinearTap<T>* tap = taps.data();
      for (int64_t bin = 0; bin < bins; ++bin) {
        T* sum = out + bin * channels;
        for (int64_t s = 0; s < samples; ++s, ++tap) {
          if (!tap->valid) continue;
          const T w0 = tap->weight[0], w1 = tap->weight[1], w2 = tap->weight[2],
                  w3 = tap->weight[3];
          const T* p0 = image + tap->offset[0] * channels;
          const T* p1 = image + tap->offset[1] * channels;
          const T* p2 = image + tap->offset[2] * channels;
          const T* p3 = image + tap->offset[3] * channels;
          for (int64_t c = 0; c < channels; ++c)
            sum[c] += w0 * p0[c] + w1 * p1[c] + w2 * p2[c] + w3 * p3[c];
        }
        for (int64_t c = 0; c < channels; ++c) sum[c] /= g.count;
      }
    }
  });
}

template <typename T>
void backward_impl(const T* grad_output, const T* rois, T* grad_input, int64_t num_rois,
                   int64_t channels, int64_t height, int64_t width, int64_t pooled_h,
                   int64_t pooled_w, T spatial_scale, int64_t sampling_ratio, bool aligned) {
  const int64_t bins = pooled_h * pooled_w;
  at::parallel_for(0, channels, 1, [&](int64_t c_begin, int64_t c_end) {
    std::vector<detail::BilinearTap<T>> taps;
    for (int64_t n = 0; n < num_rois; ++n) {
      const auto g = detail::roi_geometry(rois + n * 5, spatial_scale, pooled_h, pooled_w,
                                          sampling_ratio, aligned);
      compute_taps(g, height, width, pooled_h, pooled_w, taps);
      const int64_t samples = g.grid_h * g.grid_w;
      for (int64_t c = c_begin; c < c_end; ++c) {
        T* plane = grad_input + (g.batch_index * channels + c) * height * width;
        const T* grad = grad_output + (n * channels + c) * bins;
        const detail::BilinearTap<T>* tap = taps.data();
        for (int64_t bin = 0; bin < bins; ++bin) {
          const T grad_bin = grad[bin];
          for (int64_t s = 0; s < samples; ++s, ++tap) {
            if (!tap->valid) continue;
            for (int k = 0; k < 4; ++k)
              plane[tap->offset[k]] += grad_bin * tap->weight[k] / g.count;
          }
        }
      }
    }
  });
}

void check_floating(const at::Tensor& t, const char* what) {
  if (t.scalar_type() != at::kFloat && t.scalar_type() != at::kDouble) {
    throw Error(std::string("roi_align: the CPU kernel supports float32 and float64 only, got ") +
                what + " of dtype " + std::string(c10::toString(t.scalar_type())));
  }
}

}  // namespace

at::Tensor roi_align_forward(const at::Tensor& input, const at::Tensor& rois, int64_t pooled_h,
                             int64_t pooled_w, double spatial_scale, int64_t sampling_ratio,
                             bool aligned) {
  check_floating(input, "input");
  const int64_t num_rois = rois.size(0);
  const int64_t channels = input.size(1);
  at::Tensor output = at::zeros({num_rois, channels, pooled_h, pooled_w}, input.options());
  if (output.numel() == 0) return output;
  if (!input.is_contiguous() && input.is_contiguous(at::MemoryFormat::ChannelsLast)) {
    // Channels-last in, channels-last out: each bin's channels are one contiguous row, summed in
    // place (the output starts at zero).
    output = output.contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor rois_c = rois.contiguous();
    AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "mbmd_roi_align_forward_cpu_nhwc", [&] {
      forward_channels_last_impl<scalar_t>(
          input.data_ptr<scalar_t>(), rois_c.data_ptr<scalar_t>(), output.data_ptr<scalar_t>(),
          num_rois, channels, input.size(2), input.size(3), pooled_h, pooled_w,
          static_cast<scalar_t>(spatial_scale), sampling_ratio, aligned);
    });
    return output;
  }
  const at::Tensor input_c = input.contiguous();
  const at::Tensor rois_c = rois.contiguous();
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "mbmd_roi_align_forward_cpu", [&] {
    forward_impl<scalar_t>(input_c.data_ptr<scalar_t>(), rois_c.data_ptr<scalar_t>(),
                           output.data_ptr<scalar_t>(), num_rois, channels, input.size(2),
                           input.size(3), pooled_h, pooled_w, static_cast<scalar_t>(spatial_scale),
                           sampling_ratio, aligned);
  });
  return output;
}

at::Tensor roi_align_backward(const at::Tensor& grad_output, const at::Tensor& rois,
                              int64_t pooled_h, int64_t pooled_w, double spatial_scale,
                              int64_t sampling_ratio, bool aligned, int64_t batch, int64_t channels,
                              int64_t height, int64_t width) {
  check_floating(grad_output, "grad_output");
  at::Tensor grad_input = at::zeros({batch, channels, height, width}, grad_output.options());
  if (grad_output.numel() == 0 || grad_input.numel() == 0) return grad_input;
  const at::Tensor grad_c = grad_output.contiguous();
  const at::Tensor rois_c = rois.contiguous();
  AT_DISPATCH_FLOATING_TYPES(grad_output.scalar_type(), "mbmd_roi_align_backward_cpu", [&] {
    backward_impl<scalar_t>(grad_c.data_ptr<scalar_t>(), rois_c.data_ptr<scalar_t>(),
                            grad_input.data_ptr<scalar_t>(), rois.size(0), channels, height, width,
                            pooled_h, pooled_w, static_cast<scalar_t>(spatial_scale),
                            sampling_ratio, aligned);
  });
  return grad_input;
}

}  // namespace mbmd::ops::cpu
