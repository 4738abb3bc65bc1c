#include "mbmd/model/rpn.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/loss.h>

#include "mbmd/model/assigner.h"
#include "mbmd/ops/box_ops.h"
#include "mbmd/ops/nms.h"

namespace mbmd::model {

namespace F = torch::nn::functional;

RPNHeadImpl::RPNHeadImpl(int64_t in_channels, int64_t feat_channels, int64_t num_anchors) {
  rpn_conv = register_module(
      "rpn_conv", Conv2d(torch::nn::Conv2dOptions(in_channels, feat_channels, 3).padding(1)));
  rpn_cls =
      register_module("rpn_cls", Conv2d(torch::nn::Conv2dOptions(feat_channels, num_anchors, 1)));
  rpn_reg = register_module("rpn_reg",
                            Conv2d(torch::nn::Conv2dOptions(feat_channels, num_anchors * 4, 1)));
  normal_init(*this, 0.01);
}

RPNOutput RPNHeadImpl::forward(const std::vector<at::Tensor>& features) {
  RPNOutput out;
  for (const auto& f : features) {
    // mmdetection applies F.relu (functional: not counted as a FLOP module).
    const auto x = F::relu(rpn_conv(f), F::ReLUFuncOptions().inplace(true));
    // Scores and deltas go on in FP32 (decoding, NMS, losses), whatever the convolutions ran in.
    out.objectness.push_back(as_fp32(rpn_cls(x)));
    out.deltas.push_back(as_fp32(rpn_reg(x)));
  }
  return out;
}

namespace {

// [N, A, H, W] -> [N, H * W * A] and [N, 4A, H, W] -> [N, H * W * A, 4]: the anchors' order.
at::Tensor flatten_scores(const at::Tensor& t) {
  return t.permute({0, 2, 3, 1}).reshape({t.size(0), -1});
}

at::Tensor flatten_deltas(const at::Tensor& t) {
  return t.permute({0, 2, 3, 1}).reshape({t.size(0), -1, 4});
}

}  // namespace

RegionProposer::RegionProposer(const DetectorOptions& options)
    : options_(options.rpn),
      anchor_generator_(options.anchors),
      coder_(options.rpn.target_stds, options.rpn.clamp_min_delta) {}

std::vector<at::Tensor> RegionProposer::anchors(const std::vector<at::Tensor>& features,
                                                const at::Tensor& images) const {
  std::vector<std::pair<int64_t, int64_t>> sizes;
  for (const auto& f : features) sizes.emplace_back(f.size(2), f.size(3));
  return anchor_generator_.grid_anchors(sizes, {images.size(2), images.size(3)},
                                        features[0].options().requires_grad(false));
}

std::vector<at::Tensor> RegionProposer::proposals(const RPNOutput& out,
                                                  const std::vector<at::Tensor>& anchors,
                                                  const std::vector<ImageMeta>& metas,
                                                  bool training) const {
  const ProposalOptions& p = training ? options_.train : options_.test;
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> result;
  for (size_t img = 0; img < metas.size(); ++img) {
    std::vector<at::Tensor> boxes, scores, levels;
    for (size_t l = 0; l < anchors.size(); ++l) {
      auto s = flatten_scores(out.objectness[l])[img];
      auto d = flatten_deltas(out.deltas[l])[img];
      auto a = anchors[l];
      if (s.size(0) > p.pre_nms_top_n) {
        // Highest objectness first, as mmdetection's sort and torchvision's topk.
        const auto top = std::get<1>(s.topk(p.pre_nms_top_n, 0, /*largest=*/true, /*sorted=*/true));
        s = s.index_select(0, top);
        d = d.index_select(0, top);
        a = a.index_select(0, top);
      }
      boxes.push_back(coder_.decode(a, d));
      scores.push_back(s.sigmoid());
      levels.push_back(
          at::full({s.size(0)}, static_cast<int64_t>(l), s.options().dtype(at::kLong)));
    }
    auto b = ops::clip_boxes(at::cat(boxes), static_cast<double>(metas[img].height),
                             static_cast<double>(metas[img].width));
    auto s = at::cat(scores);
    auto lv = at::cat(levels);
    const auto valid = ops::boxes_larger_than(b, options_.min_box_size);
    b = b.index_select(0, valid);
    s = s.index_select(0, valid);
    lv = lv.index_select(0, valid);
    auto keep = ops::batched_nms(b, s, lv, p.nms_iou);
    keep = keep.slice(0, 0, p.post_nms_top_n);
    result.push_back(b.index_select(0, keep));
  }
  return result;
}

std::map<std::string, at::Tensor> RegionProposer::loss(
    const RPNOutput& out, const std::vector<at::Tensor>& anchors,
    const std::vector<at::Tensor>& gt_boxes) const {
  std::vector<at::Tensor> flat_scores, flat_deltas;
  for (size_t l = 0; l < anchors.size(); ++l) {
    flat_scores.push_back(flatten_scores(out.objectness[l]));
    flat_deltas.push_back(flatten_deltas(out.deltas[l]));
  }
  const auto scores = at::cat(flat_scores, 1);  // [N, total]
  const auto deltas = at::cat(flat_deltas, 1);  // [N, total, 4]
  const auto all_anchors = at::cat(anchors);

  std::vector<at::Tensor> cls_logits, cls_targets, reg_pred, reg_targets;
  for (size_t img = 0; img < gt_boxes.size(); ++img) {
    const auto assigned = assign_max_iou(all_anchors, gt_boxes[img], options_.assign);
    const auto sampled = sample_random(assigned, options_.num_samples, options_.pos_fraction);
    const auto idx = at::cat({sampled.positive, sampled.negative});
    cls_logits.push_back(scores[img].index_select(0, idx));
    cls_targets.push_back(at::cat({at::ones({sampled.positive.size(0)}, scores.options()),
                                   at::zeros({sampled.negative.size(0)}, scores.options())}));
    if (sampled.positive.size(0) > 0) {
      const auto gt_index = assigned.index_select(0, sampled.positive) - 1;
      reg_pred.push_back(deltas[img].index_select(0, sampled.positive));
      reg_targets.push_back(coder_.encode(all_anchors.index_select(0, sampled.positive),
                                          gt_boxes[img].index_select(0, gt_index)));
    }
  }
  const auto logits = at::cat(cls_logits);
  const double avg = std::max<int64_t>(logits.size(0), 1);
  std::map<std::string, at::Tensor> losses;
  losses["loss_rpn_cls"] =
      F::binary_cross_entropy_with_logits(
          logits, at::cat(cls_targets),
          F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kSum)) /
      avg;
  if (reg_pred.empty()) {
    losses["loss_rpn_bbox"] = deltas.sum() * 0.0;
  } else {
    losses["loss_rpn_bbox"] = (at::cat(reg_pred) - at::cat(reg_targets)).abs().sum() / avg;
  }
  return losses;
}

}  // namespace mbmd::model
