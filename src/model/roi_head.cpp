#include "mbmd/model/roi_head.h"

#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/loss.h>

#include <array>
#include <cmath>
#include <mutex>

#include "mbmd/core/error.h"
#include "mbmd/model/assigner.h"
#include "mbmd/model/flop_counter.h"
#include "mbmd/ops/box_ops.h"
#include "mbmd/ops/nms.h"
#include "mbmd/ops/roi_align.h"

namespace mbmd::model {

namespace F = torch::nn::functional;

BBoxHeadImpl::BBoxHeadImpl(const RoIOptions& options, int64_t in_channels, int64_t num_classes) {
  const bool four_convs = options.head == "4conv1fc";
  if (!four_convs && options.head != "2fc")
    throw Error("config key 'model.roi.head': unknown box head '" + options.head +
                "' (choose 2fc or 4conv1fc)");
  int64_t channels = in_channels;
  if (four_convs) {
    shared_convs = register_module("shared_convs", torch::nn::ModuleList());
    for (int i = 0; i < 4; ++i) {
      convs.emplace_back(channels, options.conv_channels, 3, 1, options.norm, /*relu=*/true);
      shared_convs->push_back(convs.back());
      channels = options.conv_channels;
    }
  }
  const int64_t fc = options.fc_channels;
  shared_fcs = register_module("shared_fcs", torch::nn::ModuleList());
  fc0 = Linear(channels * options.output_size * options.output_size, fc);
  shared_fcs->push_back(fc0);
  xavier_init(*fc0);
  if (!four_convs) {
    fc1 = Linear(fc, fc);
    shared_fcs->push_back(fc1);
    xavier_init(*fc1);
  }
  fc_cls = register_module("fc_cls", Linear(fc, num_classes + 1));
  const int64_t reg_classes = options.background_first ? num_classes + 1 : num_classes;
  fc_reg = register_module("fc_reg", Linear(fc, 4 * reg_classes));
  // mmdetection: Xavier-uniform shared FCs, normal(0.01) classifier, normal(0.001) regressor.
  normal_init(*fc_cls, 0.01);
  normal_init(*fc_reg, 0.001);
}

std::pair<at::Tensor, at::Tensor> BBoxHeadImpl::forward(const at::Tensor& roi_features) {
  at::Tensor features = roi_features;
  for (auto& conv : convs) features = conv(features);
  at::Tensor x;
  if (features.dim() == 4 && features.is_cpu() && !at::GradMode::is_enabled() &&
      !features.is_contiguous() && features.is_contiguous(at::MemoryFormat::ChannelsLast)) {
    x = first_fc_as_convolution(features);
  } else {
    x = fc0(features.flatten(1));
  }
  x = counted_relu(x);  // mmdetection's nn.ReLU module
  if (fc1) x = counted_relu(fc1(x));
  // Scores and deltas go on in FP32 (softmax, decoding, NMS, losses).
  return {as_fp32(fc_cls(x)), as_fp32(fc_reg(x))};
}

// fc0 over [K, C, s, s] channels-last RoI features is a C -> fc_channels convolution with an
// s x s kernel: oneDNN runs it on the channels-last rows directly, where the linear layer would
// first copy them into C-major order, and faster than sgemm on this shape.
at::Tensor BBoxHeadImpl::first_fc_as_convolution(const at::Tensor& roi_features) {
  const int64_t k = roi_features.size(0);
  const auto& weight = fc0->weight;
  const std::array<int64_t, 2> key = {reinterpret_cast<int64_t>(weight.data_ptr()),
                                      static_cast<int64_t>(weight._version())};
  {
    std::lock_guard<std::mutex> lock(conv_weight_mutex_);
    if (!conv_weight_.defined() || key != conv_weight_key_) {
      // An ordinary tensor without history, usable inside and outside InferenceMode.
      c10::InferenceMode normal(false);
      at::NoGradGuard no_grad;
      conv_weight_ = weight.detach()
                         .view({weight.size(0), roi_features.size(1), roi_features.size(2),
                                roi_features.size(3)})
                         .contiguous(at::MemoryFormat::ChannelsLast);
      conv_weight_key_ = key;
    }
  }
  const auto out = at::conv2d(roi_features, conv_weight_, fc0->bias).reshape({k, -1});
  flops::linear(roi_features, out, fc0->bias.defined());
  return out;
}

RoIHeadImpl::RoIHeadImpl(const DetectorOptions& options, int64_t in_channels)
    : options_(options.roi),
      num_classes_(options.num_classes),
      coder_(options.roi.target_stds, options.roi.clamp_min_delta) {
  bbox_head = register_module("bbox_head", BBoxHead(options.roi, in_channels, options.num_classes));
}

at::Tensor boxes_to_rois(const std::vector<at::Tensor>& boxes) {
  std::vector<at::Tensor> rois;
  for (size_t i = 0; i < boxes.size(); ++i) {
    auto index = at::full({boxes[i].size(0), 1}, static_cast<double>(i), boxes[i].options());
    rois.push_back(at::cat({index, boxes[i]}, 1));
  }
  return at::cat(rois);
}

at::Tensor RoIHeadImpl::level_of(const at::Tensor& rois) const {
  const auto w = rois.select(1, 3) - rois.select(1, 1);
  const auto h = rois.select(1, 4) - rois.select(1, 2);
  const auto scale = at::sqrt(w * h);
  if (options_.level_mapping == "torchvision") {
    // torchvision LevelMapper: floor(4 + log2(sqrt(area) / 224) + eps), clamped to [2, 5].
    return at::floor(4 + at::log2(scale / 224.0) + 1e-6).clamp(2, 5).to(at::kLong) - 2;
  }
  // mmdetection SingleRoIExtractor: floor(log2(scale / finest_scale + 1e-6)), clamped to [0, 3].
  return at::floor(at::log2(scale / options_.finest_scale + 1e-6)).clamp(0, 3).to(at::kLong);
}

at::Tensor RoIHeadImpl::extract(const std::vector<at::Tensor>& features, const at::Tensor& rois,
                                const at::Tensor& images) const {
  const int64_t s = options_.output_size;
  // In the features' memory format, so that channels-last RoIAlign rows copy straight in.
  auto out = at::zeros({rois.size(0), features[0].size(1), s, s},
                       features[0].options().memory_format(features[0].suggest_memory_format()));
  if (rois.size(0) == 0) return out;
  const bool in_place = !at::GradMode::is_enabled();
  const auto levels = level_of(rois);
  for (int64_t l = 0; l < 4; ++l) {
    const auto idx = at::nonzero(levels.eq(l)).squeeze(1);
    if (idx.size(0) == 0) continue;
    // The scale of a level is padded image size / feature size rounded to a power of two, as
    // torchvision infers it; it equals 1 / stride for inputs padded to a multiple of 32.
    const double approx = static_cast<double>(features[l].size(2)) / images.size(2);
    const double scale = std::pow(2.0, std::round(std::log2(approx)));
    auto pooled = ops::roi_align(features[l], rois.index_select(0, idx), s, s, scale,
                                 options_.sampling_ratio, options_.aligned);
    // Without gradients, one buffer; with them, out of place for autograd's sake.
    if (in_place)
      out.index_copy_(0, idx, pooled);
    else
      out = out.index_copy(0, idx, pooled);
  }
  return out;
}

std::map<std::string, at::Tensor> RoIHeadImpl::loss(const std::vector<at::Tensor>& features,
                                                    const at::Tensor& images,
                                                    const std::vector<at::Tensor>& proposals,
                                                    const std::vector<at::Tensor>& gt_boxes,
                                                    const std::vector<at::Tensor>& gt_labels) {
  std::vector<at::Tensor> sampled_boxes, labels, targets, target_labels, positive_rows;
  int64_t offset = 0;
  for (size_t img = 0; img < proposals.size(); ++img) {
    auto candidates = proposals[img];
    if (options_.add_gt_as_proposals && gt_boxes[img].size(0) > 0)
      candidates = at::cat({gt_boxes[img], candidates});
    const auto assigned = assign_max_iou(candidates, gt_boxes[img], options_.assign);
    const auto sampled = sample_random(assigned, options_.num_samples, options_.pos_fraction);
    const auto idx = at::cat({sampled.positive, sampled.negative});
    sampled_boxes.push_back(candidates.index_select(0, idx));
    const int64_t background = options_.background_first ? 0 : num_classes_;
    auto img_labels = at::full({idx.size(0)}, background, assigned.options());
    if (sampled.positive.size(0) > 0) {
      const auto gt_index = assigned.index_select(0, sampled.positive) - 1;
      auto pos_labels = gt_labels[img].index_select(0, gt_index);
      if (options_.background_first) pos_labels = pos_labels + 1;
      img_labels.slice(0, 0, sampled.positive.size(0)).copy_(pos_labels);
      targets.push_back(coder_.encode(candidates.index_select(0, sampled.positive),
                                      gt_boxes[img].index_select(0, gt_index)));
      target_labels.push_back(pos_labels);
      positive_rows.push_back(at::arange(sampled.positive.size(0), assigned.options()) + offset);
    }
    labels.push_back(img_labels);
    offset += idx.size(0);
  }
  const auto rois = boxes_to_rois(sampled_boxes);
  const auto [logits, deltas] = bbox_head->forward(extract(features, rois, images));
  const auto all_labels = at::cat(labels);
  const double avg = std::max<int64_t>(rois.size(0), 1);
  std::map<std::string, at::Tensor> losses;
  losses["loss_cls"] =
      F::cross_entropy(logits, all_labels, F::CrossEntropyFuncOptions().reduction(torch::kSum)) /
      avg;
  if (positive_rows.empty()) {
    losses["loss_bbox"] = deltas.sum() * 0.0;
  } else {
    const auto rows = at::cat(positive_rows);
    const auto classes = at::cat(target_labels);
    // Class-specific regression: the 4 outputs of each positive's own class.
    const auto per_class = deltas.view({deltas.size(0), -1, 4});
    const auto pred = per_class.index({rows, classes});
    losses["loss_bbox"] = (pred - at::cat(targets)).abs().sum() / avg;
  }
  return losses;
}

std::vector<Detections> RoIHeadImpl::detect(const std::vector<at::Tensor>& features,
                                            const at::Tensor& images,
                                            const std::vector<at::Tensor>& proposals,
                                            const std::vector<ImageMeta>& metas) {
  const auto rois = boxes_to_rois(proposals);
  auto [logits, deltas] = bbox_head->forward(extract(features, rois, images));
  const auto probs = logits.softmax(1);
  std::vector<Detections> result;
  int64_t start = 0;
  for (size_t img = 0; img < proposals.size(); ++img) {
    const int64_t n = proposals[img].size(0);
    const auto& meta = metas[img];
    auto p = probs.slice(0, start, start + n);
    auto d = deltas.slice(0, start, start + n);
    start += n;
    // Per-class boxes [n, C, 4] and foreground scores [n, C].
    auto boxes = coder_.decode(proposals[img], d).view({n, -1, 4});
    at::Tensor scores;
    if (options_.background_first) {
      boxes = boxes.slice(1, 1);
      scores = p.slice(1, 1);
    } else {
      scores = p.slice(1, 0, num_classes_);
    }
    boxes = ops::clip_boxes(boxes.reshape({-1, 4}), static_cast<double>(meta.height),
                            static_cast<double>(meta.width));
    if (options_.nms_in_original_scale) boxes = boxes_to_original(boxes, meta);
    auto labels = at::arange(num_classes_, scores.options().dtype(at::kLong)).repeat({n});
    auto flat_scores = scores.reshape({-1});
    auto keep = at::nonzero(flat_scores.gt(options_.score_thr)).squeeze(1);
    boxes = boxes.index_select(0, keep);
    flat_scores = flat_scores.index_select(0, keep);
    labels = labels.index_select(0, keep);
    if (options_.min_box_size > 0) {
      const auto big = ops::boxes_larger_than(boxes, options_.min_box_size);
      boxes = boxes.index_select(0, big);
      flat_scores = flat_scores.index_select(0, big);
      labels = labels.index_select(0, big);
    }
    auto kept = ops::batched_nms(boxes, flat_scores, labels, options_.nms_iou)
                    .slice(0, 0, options_.max_per_img);
    Detections det;
    det.boxes = boxes.index_select(0, kept);
    if (!options_.nms_in_original_scale) det.boxes = boxes_to_original(det.boxes, meta);
    det.scores = flat_scores.index_select(0, kept);
    det.labels = labels.index_select(0, kept);
    result.push_back(det);
  }
  return result;
}

}  // namespace mbmd::model
