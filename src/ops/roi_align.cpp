// RoIAlign: argument checks, the autograd function and the dispatch to the CPU or CUDA kernel.
#include "mbmd/ops/roi_align.h"

#include <torch/autograd.h>

#include <cmath>
#include <sstream>
#include <string>

#include "mbmd/core/error.h"
#include "op_common.h"

namespace mbmd::ops {
namespace {

void check_arguments(const at::Tensor& input, const at::Tensor& rois, int64_t pooled_h,
                     int64_t pooled_w, double spatial_scale) {
  if (!input.defined() || !rois.defined()) {
    throw Error("roi_align: input and rois must be defined tensors");
  }
  if (input.dim() != 4) {
    throw Error("roi_align: input must have shape [N, C, H, W], got a " +
                std::to_string(input.dim()) + "-D tensor of shape " + detail::shape_of(input));
  }
  if (rois.dim() != 2 || rois.size(1) != 5) {
    throw Error("roi_align: rois must have shape [K, 5] (batch_index, x1, y1, x2, y2), got shape " +
                detail::shape_of(rois));
  }
  if (!at::isFloatingType(input.scalar_type())) {
    throw Error("roi_align: input must be a floating point tensor, got dtype " +
                detail::dtype_of(input));
  }
  detail::check_same_dtype("roi_align", "input", input, "rois", rois);
  detail::check_same_device("roi_align", "input", input, "rois", rois);
  if (pooled_h <= 0 || pooled_w <= 0) {
    throw Error("roi_align: the pooled size must be positive, got " + std::to_string(pooled_h) +
                "x" + std::to_string(pooled_w));
  }
  if (!(spatial_scale > 0.0) || !std::isfinite(spatial_scale)) {
    throw Error("roi_align: spatial_scale must be a positive number, got " +
                std::to_string(spatial_scale));
  }
  if (rois.size(0) > 0) {
    // The batch index is truncated towards zero (torchvision reads it as int), so the valid values
    // are those in (-1, N). torchvision reads out of bounds otherwise; we refuse.
    const at::Tensor batch_index = rois.select(1, 0);
    const double lowest = batch_index.min().item<double>();
    const double highest = batch_index.max().item<double>();
    if (!(lowest > -1.0) || !(highest < static_cast<double>(input.size(0)))) {
      std::ostringstream message;
      message << "roi_align: rois batch indices must lie in [0, " << input.size(0) - 1
              << "] (the input has " << input.size(0) << " images), got values from " << lowest
              << " to " << highest;
      throw Error(message.str());
    }
  }
}

// Differentiable with respect to the input only: the RoIs are treated as constants, as in
// torchvision and mmcv.
class RoIAlignFunction : public torch::autograd::Function<RoIAlignFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input,
                            const at::Tensor& rois, int64_t pooled_h, int64_t pooled_w,
                            double spatial_scale, int64_t sampling_ratio, bool aligned) {
    ctx->saved_data["pooled_h"] = pooled_h;
    ctx->saved_data["pooled_w"] = pooled_w;
    ctx->saved_data["spatial_scale"] = spatial_scale;
    ctx->saved_data["sampling_ratio"] = sampling_ratio;
    ctx->saved_data["aligned"] = aligned;
    ctx->saved_data["input_shape"] = input.sizes().vec();
    ctx->save_for_backward({rois});
    const auto kernel =
        detail::kernel_for(detail::kRoiAlignForwardKernels, input.device(), "roi_align: no kernel");
    return kernel(input, rois, pooled_h, pooled_w, spatial_scale, sampling_ratio, aligned);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const at::Tensor rois = ctx->get_saved_variables()[0];
    const std::vector<int64_t> input_shape = ctx->saved_data["input_shape"].toIntVector();
    const auto kernel =
        detail::kernel_for(detail::kRoiAlignBackwardKernels, grad_outputs[0].device(),
                           "roi_align: no backward kernel");
    at::Tensor grad_input =
        kernel(grad_outputs[0], rois, ctx->saved_data["pooled_h"].toInt(),
               ctx->saved_data["pooled_w"].toInt(), ctx->saved_data["spatial_scale"].toDouble(),
               ctx->saved_data["sampling_ratio"].toInt(), ctx->saved_data["aligned"].toBool(),
               input_shape[0], input_shape[1], input_shape[2], input_shape[3]);
    // One entry per forward argument: input, rois, pooled_h, pooled_w, scale, ratio, aligned.
    return {grad_input,   at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor roi_align(const at::Tensor& input, const at::Tensor& rois, int64_t pooled_h,
                     int64_t pooled_w, double spatial_scale, int64_t sampling_ratio, bool aligned) {
  check_arguments(input, rois, pooled_h, pooled_w, spatial_scale);
  return RoIAlignFunction::apply(input, rois, pooled_h, pooled_w, spatial_scale, sampling_ratio,
                                 aligned);
}

}  // namespace mbmd::ops
