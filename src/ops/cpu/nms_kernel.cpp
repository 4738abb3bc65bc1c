// Greedy NMS on the CPU, templated on the scalar type. The IoU arithmetic is torchvision's
// (areas (x2 - x1) * (y2 - y1), inter / (area_i + area_j - inter), suppress when > threshold), in
// the boxes' own precision, so kept sets agree exactly, including for degenerate boxes (a zero-area
// box against another gives 0 / 0 = NaN, which never suppresses).
#include "nms_kernel.h"

#include <ATen/Dispatch.h>

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace mbmd::ops::cpu {
namespace {

template <typename T>
at::Tensor nms_impl(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& labels,
                    double iou_threshold) {
  const int64_t count = boxes.size(0);
  // Stable, so that equal scores keep their index order: torchvision 0.14 sorts the same way.
  const at::Tensor order_t =
      std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true)).contiguous();
  const at::Tensor boxes_c = boxes.contiguous();
  const T* b = boxes_c.data_ptr<T>();
  const int64_t* order = order_t.data_ptr<int64_t>();

  std::vector<T> areas(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    areas[i] = (b[4 * i + 2] - b[4 * i]) * (b[4 * i + 3] - b[4 * i + 1]);
  }

  // Boxes in rank order, split by label: boxes of different labels never interact, so each group
  // runs its own greedy pass (quadratic in the group size only).
  std::vector<std::vector<int64_t>> groups;
  if (labels.defined()) {
    const at::Tensor labels_c = labels.contiguous();
    const int64_t* label = labels_c.data_ptr<int64_t>();
    std::unordered_map<int64_t, size_t> group_of;
    for (int64_t r = 0; r < count; ++r) {
      const int64_t i = order[r];
      const auto found = group_of.emplace(label[i], groups.size());
      if (found.second) groups.emplace_back();
      groups[found.first->second].push_back(i);
    }
  } else {
    groups.emplace_back(order, order + count);
  }

  std::vector<uint8_t> suppressed(static_cast<size_t>(count), 0);
  std::vector<uint8_t> kept(static_cast<size_t>(count), 0);
  for (const std::vector<int64_t>& group : groups) {
    const size_t size = group.size();
    for (size_t gi = 0; gi < size; ++gi) {
      const int64_t i = group[gi];
      if (suppressed[i]) continue;
      kept[i] = 1;
      const T ix1 = b[4 * i], iy1 = b[4 * i + 1], ix2 = b[4 * i + 2], iy2 = b[4 * i + 3];
      const T iarea = areas[i];
      for (size_t gj = gi + 1; gj < size; ++gj) {
        const int64_t j = group[gj];
        if (suppressed[j]) continue;
        const T w =
            std::max(static_cast<T>(0), std::min(ix2, b[4 * j + 2]) - std::max(ix1, b[4 * j]));
        const T h =
            std::max(static_cast<T>(0), std::min(iy2, b[4 * j + 3]) - std::max(iy1, b[4 * j + 1]));
        const T inter = w * h;
        const T iou = inter / (iarea + areas[j] - inter);
        if (iou > iou_threshold) suppressed[j] = 1;
      }
    }
  }

  std::vector<int64_t> keep;
  for (int64_t r = 0; r < count; ++r) {
    if (kept[order[r]]) keep.push_back(order[r]);
  }
  at::Tensor result =
      at::empty({static_cast<int64_t>(keep.size())}, boxes.options().dtype(at::kLong));
  std::copy(keep.begin(), keep.end(), result.data_ptr<int64_t>());
  return result;
}

}  // namespace

at::Tensor nms_kernel(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& labels,
                      double iou_threshold) {
  if (boxes.size(0) == 0) return at::empty({0}, boxes.options().dtype(at::kLong));
  at::Tensor result;
  AT_DISPATCH_FLOATING_TYPES(boxes.scalar_type(), "mbmd_nms_cpu", [&] {
    result = nms_impl<scalar_t>(boxes, scores, labels, iou_threshold);
  });
  return result;
}

}  // namespace mbmd::ops::cpu
