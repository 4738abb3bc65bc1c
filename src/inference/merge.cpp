#include "mbmd/inference/merge.h"

#include <algorithm>

#include "mbmd/core/error.h"
#include "mbmd/ops/box_ops.h"
#include "mbmd/ops/nms.h"

namespace mbmd::engine {
namespace {

// Every run's detections in one set (CPU, float boxes and scores, int64 labels).
model::Detections concatenate(const std::vector<model::Detections>& runs) {
  std::vector<at::Tensor> boxes, scores, labels;
  for (const auto& r : runs) {
    if (!r.boxes.defined() || r.boxes.numel() == 0) continue;
    boxes.push_back(r.boxes.to(at::kCPU, at::kFloat).reshape({-1, 4}));
    scores.push_back(r.scores.to(at::kCPU, at::kFloat).reshape({-1}));
    labels.push_back(r.labels.to(at::kCPU, at::kLong).reshape({-1}));
  }
  model::Detections all;
  all.boxes = boxes.empty() ? at::zeros({0, 4}, at::kFloat) : at::cat(boxes);
  all.scores = scores.empty() ? at::zeros({0}, at::kFloat) : at::cat(scores);
  all.labels = labels.empty() ? at::zeros({0}, at::kLong) : at::cat(labels);
  return all;
}

model::Detections select(const model::Detections& d, const at::Tensor& keep) {
  return {d.boxes.index_select(0, keep), d.scores.index_select(0, keep),
          d.labels.index_select(0, keep)};
}

// The highest-scoring `max_dets`, in descending score.
model::Detections top(const model::Detections& d, int64_t max_dets) {
  const at::Tensor order = std::get<1>(d.scores.sort(/*stable=*/true, 0, /*descending=*/true));
  return select(d, order.slice(0, 0, std::min<int64_t>(max_dets, order.size(0))));
}

struct Cluster {
  std::vector<int64_t> members;  // positions in the concatenated set
  at::Tensor fused;              // [4] score-weighted mean box
};

// Fuses the boxes of one class: clusters in descending score, each box joining the first
// cluster whose fused box it overlaps with IoU > iou_thr.
void fuse_class(const model::Detections& all, const at::Tensor& positions, double iou_thr,
                size_t runs, std::vector<float>& boxes, std::vector<float>& scores,
                std::vector<int64_t>& labels, int64_t label) {
  const at::Tensor class_scores = all.scores.index_select(0, positions);
  const at::Tensor order = positions.index_select(0, std::get<1>(class_scores.sort(true, 0, true)));
  std::vector<Cluster> clusters;
  for (int64_t k = 0; k < order.size(0); ++k) {
    const int64_t i = order[k].item<int64_t>();
    const at::Tensor box = all.boxes[i];
    Cluster* home = nullptr;
    for (auto& c : clusters)
      if (ops::box_iou(c.fused.view({1, 4}), box.view({1, 4})).item<double>() > iou_thr) {
        home = &c;
        break;
      }
    if (!home) {
      clusters.push_back({{}, box.clone()});
      home = &clusters.back();
    }
    home->members.push_back(i);
    const at::Tensor m = at::tensor(home->members, at::kLong);
    const at::Tensor w = all.scores.index_select(0, m).view({-1, 1});
    home->fused = (all.boxes.index_select(0, m) * w).sum(0) / w.sum();
  }
  for (const auto& c : clusters) {
    const at::Tensor m = at::tensor(c.members, at::kLong);
    const double mean = all.scores.index_select(0, m).mean().item<double>();
    const double weight =
        static_cast<double>(std::min(c.members.size(), runs)) / static_cast<double>(runs);
    for (int j = 0; j < 4; ++j) boxes.push_back(c.fused[j].item<float>());
    scores.push_back(static_cast<float>(mean * weight));
    labels.push_back(label);
  }
}

model::Detections weighted_box_fusion(const model::Detections& all, double iou_thr, size_t runs) {
  std::vector<float> boxes, scores;
  std::vector<int64_t> labels;
  const at::Tensor classes = std::get<0>(at::_unique(all.labels, /*sorted=*/true));
  for (int64_t c = 0; c < classes.size(0); ++c) {
    const int64_t label = classes[c].item<int64_t>();
    fuse_class(all, at::nonzero(all.labels == label).view({-1}), iou_thr, runs, boxes, scores,
               labels, label);
  }
  const auto n = static_cast<int64_t>(scores.size());
  return {at::tensor(boxes, at::kFloat).view({n, 4}), at::tensor(scores, at::kFloat),
          at::tensor(labels, at::kLong)};
}

}  // namespace

MergeMethod parse_merge_method(const std::string& text, const std::string& option) {
  if (text == "nms") return MergeMethod::kNms;
  if (text == "wbf") return MergeMethod::kWbf;
  throw Error("option " + option + ": expected nms or wbf, got '" + text + "'");
}

model::Detections merge_detections(const std::vector<model::Detections>& runs,
                                   const MergeOptions& options) {
  if (runs.empty()) throw Error("merge_detections: no detections to merge");
  if (!(options.iou_thr > 0.0 && options.iou_thr <= 1.0))
    throw Error("merge IoU threshold must be in (0, 1], got " + std::to_string(options.iou_thr));
  const model::Detections all = concatenate(runs);
  if (all.scores.numel() == 0) return all;
  if (options.method == MergeMethod::kNms)
    return top(select(all, ops::batched_nms(all.boxes, all.scores, all.labels, options.iou_thr)),
               options.max_dets);
  return top(weighted_box_fusion(all, options.iou_thr, runs.size()), options.max_dets);
}

std::vector<model::Detections> merge_runs_per_image(
    const std::vector<std::vector<model::Detections>>& runs, const MergeOptions& options) {
  if (runs.empty()) throw Error("merge_runs_per_image: no runs to merge");
  std::vector<model::Detections> merged;
  for (size_t i = 0; i < runs.front().size(); ++i) {
    std::vector<model::Detections> of_image;
    for (const auto& run : runs) of_image.push_back(run.at(i));
    merged.push_back(merge_detections(of_image, options));
  }
  return merged;
}

}  // namespace mbmd::engine
