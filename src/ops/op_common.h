// What the front ends of the ops (nms.cpp, roi_align.cpp) share: the argument checks that name
// what is wrong, and every op's kernels by device with the choice among them.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "cpu/nms_kernel.h"
#include "cpu/roi_align_kernel.h"
#include "mbmd/core/error.h"
#ifdef MBMD_WITH_CUDA
#include "cuda/nms_kernel.h"
#include "cuda/roi_align_kernel.h"
#endif

namespace mbmd::ops::detail {

// "[2, 4]": a tensor's shape for error messages.
std::string shape_of(const at::Tensor& t);

// "Float": a tensor's dtype for error messages.
std::string dtype_of(const at::Tensor& t);

// Throw "<op>: <a_name> and <b_name> must have the same dtype (be on the same device), got ...".
void check_same_dtype(const std::string& op, const char* a_name, const at::Tensor& a,
                      const char* b_name, const at::Tensor& b);
void check_same_device(const std::string& op, const char* a_name, const at::Tensor& a,
                       const char* b_name, const at::Tensor& b);

// One kernel of an op per device: `cuda` is null in a build without the CUDA kernels.
template <typename Kernel>
struct DeviceKernels {
  Kernel* cpu;
  Kernel* cuda;
};

// The CUDA member of DeviceKernels: the kernel in a build with the CUDA kernels, else null.
#ifdef MBMD_WITH_CUDA
#define MBMD_CUDA_KERNEL(kernel) (kernel)
#else
#define MBMD_CUDA_KERNEL(kernel) nullptr
#endif

// The kernels of every op, one line each.
inline constexpr DeviceKernels<decltype(cpu::nms_kernel)> kNmsKernels{
    cpu::nms_kernel, MBMD_CUDA_KERNEL(cuda::nms_kernel)};
inline constexpr DeviceKernels<decltype(cpu::roi_align_forward)> kRoiAlignForwardKernels{
    cpu::roi_align_forward, MBMD_CUDA_KERNEL(cuda::roi_align_forward)};
inline constexpr DeviceKernels<decltype(cpu::roi_align_backward)> kRoiAlignBackwardKernels{
    cpu::roi_align_backward, MBMD_CUDA_KERNEL(cuda::roi_align_backward)};

[[noreturn]] void throw_no_kernel(const std::string& missing, const at::Device& device);

// The kernel for tensors on `device`; throws "<missing> for tensors on <device> in this build
// (...)" when there is none (`missing`: "nms: no kernel").
template <typename Kernel>
Kernel* kernel_for(const DeviceKernels<Kernel>& kernels, const at::Device& device,
                   const std::string& missing) {
  if (device.is_cpu()) return kernels.cpu;
  if (device.is_cuda() && kernels.cuda) return kernels.cuda;
  throw_no_kernel(missing, device);
}

}  // namespace mbmd::ops::detail
