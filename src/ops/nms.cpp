// NMS and batched NMS: argument checks and dispatch to the CPU or CUDA kernel.
#include "mbmd/ops/nms.h"

#include <string>
#include <tuple>

#include "mbmd/core/error.h"
#include "op_common.h"

namespace mbmd::ops {
namespace {

void check_boxes_and_scores(const char* op, const at::Tensor& boxes, const at::Tensor& scores) {
  const std::string name(op);
  if (!boxes.defined() || !scores.defined()) {
    throw Error(name + ": boxes and scores must be defined tensors");
  }
  if (boxes.dim() != 2 || boxes.size(1) != 4) {
    throw Error(name + ": boxes must have shape [N, 4] (x1, y1, x2, y2), got shape " +
                detail::shape_of(boxes));
  }
  if (scores.dim() != 1 || scores.size(0) != boxes.size(0)) {
    throw Error(name + ": scores must have shape [N] with N = " + std::to_string(boxes.size(0)) +
                " (one per box), got shape " + detail::shape_of(scores));
  }
  if (boxes.scalar_type() != at::kFloat && boxes.scalar_type() != at::kDouble) {
    throw Error(name + ": boxes must be float32 or float64, got " + detail::dtype_of(boxes));
  }
  detail::check_same_dtype(name, "boxes", boxes, "scores", scores);
  detail::check_same_device(name, "boxes", boxes, "scores", scores);
}

at::Tensor nms_on_device(const char* op, const at::Tensor& boxes, const at::Tensor& scores,
                         const at::Tensor& labels, double iou_threshold) {
  const auto kernel =
      detail::kernel_for(detail::kNmsKernels, boxes.device(), std::string(op) + ": no kernel");
  return kernel(boxes, scores, labels, iou_threshold);
}

}  // namespace

at::Tensor nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold) {
  check_boxes_and_scores("nms", boxes, scores);
  return nms_on_device("nms", boxes, scores, at::Tensor(), iou_threshold);
}

at::Tensor batched_nms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                       double iou_threshold) {
  check_boxes_and_scores("batched_nms", boxes, scores);
  if (!idxs.defined() || idxs.dim() != 1 || idxs.size(0) != boxes.size(0)) {
    throw Error("batched_nms: idxs must have shape [N] with N = " + std::to_string(boxes.size(0)) +
                " (one per box), got " +
                (idxs.defined() ? "shape " + detail::shape_of(idxs) : "none"));
  }
  if (!at::isIntegralType(idxs.scalar_type(), /*includeBool=*/false)) {
    throw Error("batched_nms: idxs must be an integer tensor, got " + detail::dtype_of(idxs));
  }
  detail::check_same_device("batched_nms", "boxes", boxes, "idxs", idxs);
  if (boxes.size(0) == 0) return at::empty({0}, boxes.options().dtype(at::kLong));

  // Per-label greedy NMS in the global stable score order: exactly a per-class NMS, which is what
  // torchvision computes. Its small-input path gets there by offsetting each class's boxes by
  // idx * (max coordinate + 1) and running one plain NMS; we shift nothing, so the results agree
  // except where torchvision's shift itself rounds a float32 IoU across the threshold, or negative
  // coordinates let its shifted classes overlap (both torchvision artefacts).
  at::Tensor keep = nms_on_device("batched_nms", boxes, scores, idxs.to(at::kLong), iou_threshold);

  // Above 4000 coordinates on the CPU (20000 on CUDA) torchvision runs NMS class by class and then
  // orders the kept indices (taken in increasing index order) with an unstable descending sort of
  // their scores. Replaying that last step gives its exact order among equal scores.
  const int64_t per_class_from = boxes.device().is_cpu() ? 4000 : 20000;
  if (boxes.numel() > per_class_from) {
    const at::Tensor increasing = std::get<0>(keep.sort());
    const at::Tensor order =
        std::get<1>(scores.index_select(0, increasing).sort(/*dim=*/0, /*descending=*/true));
    keep = increasing.index_select(0, order);
  }
  return keep;
}

}  // namespace mbmd::ops
