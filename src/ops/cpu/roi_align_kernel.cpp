// RoIAlign on the CPU, templated on the scalar type. The forward pass runs in parallel over RoIs
// (each writes its own output rows), on NCHW or channels-last input; the backward pass runs in
// parallel over channels, because RoIs of the same image scatter into the same input pixels while
// different channels never collide, and it keeps the summation order of torchvision's serial loop
// (RoI, bin, sample).
#include "roi_align_kernel.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "mbmd/core/error.h"
#include "roi_align_common.h"

namespace mbmd::ops::cpu {
namespace {

// What every RoI of one call shares: the feature map's size and the pooling settings.
struct Sampling {
  int64_t height;
  int64_t width;
  int64_t pooled_h;
  int64_t pooled_w;
  double spatial_scale;  // used in the scalar type of the tensors
  int64_t sampling_ratio;
  bool aligned;
};

// The geometry of one RoI, and in `taps` the bilinear taps of all its samples in (bin row, bin
// column, sample row, sample column) order; they are shared by all channels.
template <typename T>
detail::RoiGeometry<T> roi_taps(const T* roi, const Sampling& sampling,
                                std::vector<detail::BilinearTap<T>>& taps) {
  const int64_t pooled_h = sampling.pooled_h;
  const int64_t pooled_w = sampling.pooled_w;
  const auto g = detail::roi_geometry(roi, static_cast<T>(sampling.spatial_scale), pooled_h,
                                      pooled_w, sampling.sampling_ratio, sampling.aligned);
  taps.clear();
  taps.reserve(static_cast<size_t>(pooled_h * pooled_w * g.grid_h * g.grid_w));
  for (int64_t ph = 0; ph < pooled_h; ++ph) {
    for (int64_t pw = 0; pw < pooled_w; ++pw) {
      for (int64_t iy = 0; iy < g.grid_h; ++iy) {
        const T y = detail::sample_coordinate(g.start_h, g.bin_h, ph, iy, g.grid_h);
        for (int64_t ix = 0; ix < g.grid_w; ++ix) {
          const T x = detail::sample_coordinate(g.start_w, g.bin_w, pw, ix, g.grid_w);
          taps.push_back(detail::bilinear_tap(sampling.height, sampling.width, y, x));
        }
      }
    }
  }
  return g;
}

// One RoI's output [channels, bins] from its image [channels, height, width]: each bin averages
// the bilinear taps of its samples.
template <typename T>
void pool_roi(const T* image, T* out, int64_t channels, int64_t plane_size, int64_t bins,
              const detail::RoiGeometry<T>& g, const detail::BilinearTap<T>* taps) {
  const int64_t samples = g.grid_h * g.grid_w;
  for (int64_t c = 0; c < channels; ++c) {
    const T* plane = image + c * plane_size;
    const detail::BilinearTap<T>* tap = taps;
    for (int64_t bin = 0; bin < bins; ++bin) {
      T sum = 0;
      for (int64_t s = 0; s < samples; ++s, ++tap) {
        if (!tap->valid) continue;
        sum += tap->weight[0] * plane[tap->offset[0]] + tap->weight[1] * plane[tap->offset[1]] +
               tap->weight[2] * plane[tap->offset[2]] + tap->weight[3] * plane[tap->offset[3]];
      }
      out[c * bins + bin] = sum / g.count;  // average over the bin's samples
    }
  }
}

// The same on a channels-last image [height, width, channels], as the backbone and neck produce
// it, into out [bins, channels] (zero on entry): the four taps of a sample are rows of `channels`
// contiguous values, so the inner loop runs over channels. Each output value is summed in the
// same order as pool_roi (samples of its bin, taps 0..3), so both layouts give identical results.
template <typename T>
void pool_roi_channels_last(const T* image, T* out, int64_t channels, int64_t bins,
                            const detail::RoiGeometry<T>& g, const detail::BilinearTap<T>* taps) {
  const int64_t samples = g.grid_h * g.grid_w;
  const detail::BilinearTap<T>* tap = taps;
  for (int64_t bin = 0; bin < bins; ++bin) {
    T* sum = out + bin * channels;
    for (int64_t s = 0; s < samples; ++s, ++tap) {
      if (!tap->valid) continue;
      const T w0 = tap->weight[0], w1 = tap->weight[1], w2 = tap->weight[2], w3 = tap->weight[3];
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

// The forward pass, in parallel over RoIs: each RoI writes its own output rows, NCHW or (with
// `channels_last`) NHWC like its input.
template <typename T>
void forward_impl(const T* input, const T* rois, T* output, int64_t num_rois, int64_t channels,
                  const Sampling& sampling, bool channels_last) {
  const int64_t plane_size = sampling.height * sampling.width;
  const int64_t bins = sampling.pooled_h * sampling.pooled_w;
  at::parallel_for(0, num_rois, 1, [&](int64_t begin, int64_t end) {
    std::vector<detail::BilinearTap<T>> taps;
    for (int64_t n = begin; n < end; ++n) {
      const auto g = roi_taps(rois + n * 5, sampling, taps);
      const T* image = input + g.batch_index * channels * plane_size;
      T* out = output + n * channels * bins;
      if (channels_last) {
        pool_roi_channels_last(image, out, channels, bins, g, taps.data());
      } else {
        pool_roi(image, out, channels, plane_size, bins, g, taps.data());
      }
    }
  });
}

template <typename T>
void backward_impl(const T* grad_output, const T* rois, T* grad_input, int64_t num_rois,
                   int64_t channels, const Sampling& sampling) {
  const int64_t height = sampling.height;
  const int64_t width = sampling.width;
  const int64_t bins = sampling.pooled_h * sampling.pooled_w;
  at::parallel_for(0, channels, 1, [&](int64_t c_begin, int64_t c_end) {
    std::vector<detail::BilinearTap<T>> taps;
    for (int64_t n = 0; n < num_rois; ++n) {
      const auto g = roi_taps(rois + n * 5, sampling, taps);
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
  const Sampling sampling{input.size(2), input.size(3),  pooled_h, pooled_w,
                          spatial_scale, sampling_ratio, aligned};
  // Channels-last in, channels-last out: each bin's channels are one contiguous row, summed in
  // place (the output starts at zero).
  const bool channels_last =
      !input.is_contiguous() && input.is_contiguous(at::MemoryFormat::ChannelsLast);
  if (channels_last) output = output.contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor input_c = channels_last ? input : input.contiguous();
  const at::Tensor rois_c = rois.contiguous();
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "mbmd_roi_align_forward_cpu", [&] {
    forward_impl<scalar_t>(input_c.data_ptr<scalar_t>(), rois_c.data_ptr<scalar_t>(),
                           output.data_ptr<scalar_t>(), num_rois, channels, sampling,
                           channels_last);
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
  const Sampling sampling{height,        width,          pooled_h, pooled_w,
                          spatial_scale, sampling_ratio, aligned};
  const at::Tensor grad_c = grad_output.contiguous();
  const at::Tensor rois_c = rois.contiguous();
  AT_DISPATCH_FLOATING_TYPES(grad_output.scalar_type(), "mbmd_roi_align_backward_cpu", [&] {
    backward_impl<scalar_t>(grad_c.data_ptr<scalar_t>(), rois_c.data_ptr<scalar_t>(),
                            grad_input.data_ptr<scalar_t>(), rois.size(0), channels, sampling);
  });
  return grad_input;
}

}  // namespace mbmd::ops::cpu
