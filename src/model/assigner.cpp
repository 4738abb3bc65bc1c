#include "mbmd/model/assigner.h"

#include "mbmd/ops/box_ops.h"

namespace mbmd::model {

at::Tensor assign_max_iou(const at::Tensor& boxes, const at::Tensor& gt_boxes,
                          const AssignOptions& options) {
  const auto long_options = boxes.options().dtype(at::kLong);
  auto assigned = at::full({boxes.size(0)}, -1, long_options);
  if (gt_boxes.size(0) == 0) {
    assigned.zero_();
    return assigned;
  }
  if (boxes.size(0) == 0) return assigned;
  const auto iou = ops::box_iou(gt_boxes, boxes);  // [G, N]
  const auto [max_overlaps, argmax] = iou.max(0);
  assigned.masked_fill_(max_overlaps.ge(0).logical_and(max_overlaps.lt(options.neg_iou_thr)), 0);
  const auto positive = max_overlaps.ge(options.pos_iou_thr);
  assigned = at::where(positive, argmax + 1, assigned);
  if (options.match_low_quality) {
    const auto gt_max = std::get<0>(iou.max(1));  // [G]
    // Later ground truths win ties, as mmdetection's loop over ground truths does.
    for (int64_t g = 0; g < gt_boxes.size(0); ++g) {
      const double best = gt_max[g].item<double>();
      if (best < options.min_pos_iou) continue;
      assigned.masked_fill_(iou[g].eq(best), g + 1);
    }
  }
  return assigned;
}

SampleResult sample_random(const at::Tensor& assigned, int64_t num, double pos_fraction) {
  auto positive = at::nonzero(assigned.gt(0)).squeeze(1);
  auto negative = at::nonzero(assigned.eq(0)).squeeze(1);
  const int64_t max_pos = static_cast<int64_t>(num * pos_fraction);
  if (positive.size(0) > max_pos)
    positive = positive.index_select(
        0, at::randperm(positive.size(0), positive.options()).slice(0, 0, max_pos));
  const int64_t max_neg = num - positive.size(0);
  if (negative.size(0) > max_neg)
    negative = negative.index_select(
        0, at::randperm(negative.size(0), negative.options()).slice(0, 0, max_neg));
  return {positive, negative};
}

}  // namespace mbmd::model
