// RoIAlign on CUDA: one thread per output element in the forward pass, one thread per output
// gradient element scattering with atomicAdd in the backward pass. The geometry and the bilinear
// weights come from the same helpers as the CPU kernel (../cpu/roi_align_common.h).
#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include <algorithm>

#include "../cpu/roi_align_common.h"
#include "roi_align_kernel.h"

namespace mbmd::ops::cuda {
namespace {

constexpr int kThreads = 256;

int64_t blocks_for(int64_t count) {
  return std::min<int64_t>((count + kThreads - 1) / kThreads, 65535);
}

template <typename T>
__global__ void forward_kernel(int64_t total, const T* input, const T* rois, T* output,
                               int64_t channels, int64_t height, int64_t width, int64_t pooled_h,
                               int64_t pooled_w, T spatial_scale, int64_t sampling_ratio,
                               bool aligned) {
  for (int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; index < total;
       index += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    // index -> (n, c, ph, pw) of the [K, C, pooled_h, pooled_w] output
    const int64_t pw = index % pooled_w;
    const int64_t ph = (index / pooled_w) % pooled_h;
    const int64_t c = (index / pooled_w / pooled_h) % channels;
    const int64_t n = index / pooled_w / pooled_h / channels;
    const auto g = detail::roi_geometry(rois + n * 5, spatial_scale, pooled_h, pooled_w,
                                        sampling_ratio, aligned);
    const T* plane = input + (g.batch_index * channels + c) * height * width;
    T sum = 0;
    for (int64_t iy = 0; iy < g.grid_h; ++iy) {
      const T y = detail::sample_coordinate(g.start_h, g.bin_h, ph, iy, g.grid_h);
      for (int64_t ix = 0; ix < g.grid_w; ++ix) {
        const T x = detail::sample_coordinate(g.start_w, g.bin_w, pw, ix, g.grid_w);
        const auto tap = detail::bilinear_tap(height, width, y, x);
        if (!tap.valid) continue;
        sum += tap.weight[0] * plane[tap.offset[0]] + tap.weight[1] * plane[tap.offset[1]] +
               tap.weight[2] * plane[tap.offset[2]] + tap.weight[3] * plane[tap.offset[3]];
      }
    }
    output[index] = sum / g.count;
  }
}

template <typename T>
__global__ void backward_kernel(int64_t total, const T* grad_output, const T* rois, T* grad_input,
                                int64_t channels, int64_t height, int64_t width, int64_t pooled_h,
                                int64_t pooled_w, T spatial_scale, int64_t sampling_ratio,
                                bool aligned) {
  for (int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; index < total;
       index += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t pw = index % pooled_w;
    const int64_t ph = (index / pooled_w) % pooled_h;
    const int64_t c = (index / pooled_w / pooled_h) % channels;
    const int64_t n = index / pooled_w / pooled_h / channels;
    const auto g = detail::roi_geometry(rois + n * 5, spatial_scale, pooled_h, pooled_w,
                                        sampling_ratio, aligned);
    T* plane = grad_input + (g.batch_index * channels + c) * height * width;
    const T grad = grad_output[index];
    for (int64_t iy = 0; iy < g.grid_h; ++iy) {
      const T y = detail::sample_coordinate(g.start_h, g.bin_h, ph, iy, g.grid_h);
      for (int64_t ix = 0; ix < g.grid_w; ++ix) {
        const T x = detail::sample_coordinate(g.start_w, g.bin_w, pw, ix, g.grid_w);
        const auto tap = detail::bilinear_tap(height, width, y, x);
        if (!tap.valid) continue;
        for (int k = 0; k < 4; ++k)
          atomicAdd(plane + tap.offset[k], grad * tap.weight[k] / g.count);
      }
    }
  }
}

void check_floating(const at::Tensor& t, const char* what) {
  TORCH_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble,
              "roi_align: the CUDA kernel supports float32 and float64 only, got ", what,
              " of dtype ", t.scalar_type());
}

}  // namespace

at::Tensor roi_align_forward(const at::Tensor& input, const at::Tensor& rois, int64_t pooled_h,
                             int64_t pooled_w, double spatial_scale, int64_t sampling_ratio,
                             bool aligned) {
  check_floating(input, "input");
  c10::cuda::CUDAGuard guard(input.device());
  at::Tensor output = at::zeros({rois.size(0), input.size(1), pooled_h, pooled_w}, input.options());
  const int64_t total = output.numel();
  if (total == 0) return output;
  const at::Tensor input_c = input.contiguous();
  const at::Tensor rois_c = rois.contiguous();
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "mbmd_roi_align_forward_cuda", [&] {
    forward_kernel<scalar_t><<<blocks_for(total), kThreads, 0, stream>>>(
        total, input_c.data_ptr<scalar_t>(), rois_c.data_ptr<scalar_t>(),
        output.data_ptr<scalar_t>(), input.size(1), input.size(2), input.size(3), pooled_h,
        pooled_w, static_cast<scalar_t>(spatial_scale), sampling_ratio, aligned);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return output;
}

at::Tensor roi_align_backward(const at::Tensor& grad_output, const at::Tensor& rois,
                              int64_t pooled_h, int64_t pooled_w, double spatial_scale,
                              int64_t sampling_ratio, bool aligned, int64_t batch, int64_t channels,
                              int64_t height, int64_t width) {
  check_floating(grad_output, "grad_output");
  c10::cuda::CUDAGuard guard(grad_output.device());
  at::Tensor grad_input = at::zeros({batch, channels, height, width}, grad_output.options());
  const int64_t total = grad_output.numel();
  if (total == 0 || grad_input.numel() == 0) return grad_input;
  const at::Tensor grad_c = grad_output.contiguous();
  const at::Tensor rois_c = rois.contiguous();
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(grad_output.scalar_type(), "mbmd_roi_align_backward_cuda", [&] {
    backward_kernel<scalar_t><<<blocks_for(total), kThreads, 0, stream>>>(
        total, grad_c.data_ptr<scalar_t>(), rois_c.data_ptr<scalar_t>(),
        grad_input.data_ptr<scalar_t>(), channels, height, width, pooled_h, pooled_w,
        static_cast<scalar_t>(spatial_scale), sampling_ratio, aligned);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return grad_input;
}

}  // namespace mbmd::ops::cuda
