#include "mbmd/model/detector.h"

#include "mbmd/core/error.h"

namespace mbmd::model {

FasterRCNNImpl::FasterRCNNImpl(const DetectorOptions& options)
    : options_(options), proposer_(options) {
  backbone = register_module("backbone", ResNet(options.backbone));
  neck = register_module("neck", make_neck(options.neck, backbone->out_channels(),
                                           options.neck_channels, options.neck_norm));
  ops::AnchorGenerator anchors(options.anchors);
  rpn_head = register_module("rpn_head", RPNHead(options.neck_channels, options.rpn.feat_channels,
                                                 anchors.anchors_per_location()));
  roi_head = register_module("roi_head", RoIHead(options, options.neck_channels));
}

void FasterRCNNImpl::check_images(const at::Tensor& images) const {
  if (!images.defined() || images.dim() != 4 || images.size(1) != 3)
    throw Error("detector input must be a [N, 3, H, W] tensor, got " +
                (images.defined() ? std::string("rank ") + std::to_string(images.dim()) +
                                        " with sizes " + c10::str(images.sizes())
                                  : std::string("an undefined tensor")));
  if (images.size(2) < 32 || images.size(3) < 32)
    throw Error("detector input must be at least 32x32, got " + c10::str(images.sizes()));
}

std::vector<at::Tensor> FasterRCNNImpl::features(const at::Tensor& images) {
  check_images(images);
  PrecisionScope scope(compute_precision(images), images.device().type());
  // RoIAlign reads the maps in FP32.
  return as_fp32(neck->forward(backbone->forward(images)));
}

Precision FasterRCNNImpl::compute_precision(const at::Tensor& images) const {
  return usable_precision(options_.precision, images.device().type());
}

std::map<std::string, at::Tensor> FasterRCNNImpl::forward_train(const Batch& batch) {
  if (batch.gt_boxes.size() != batch.metas.size() || batch.gt_labels.size() != batch.metas.size())
    throw Error("training batch needs ground-truth boxes and labels for every image");
  PrecisionScope scope(compute_precision(batch.images), batch.images.device().type());
  const auto feats = features(batch.images);
  const auto rpn_out = rpn_head->forward(feats);
  const auto anchors = proposer_.anchors(feats, batch.images);
  auto losses = proposer_.loss(rpn_out, anchors, batch.gt_boxes);
  const auto proposals = proposer_.proposals(rpn_out, anchors, batch.metas, /*training=*/true);
  const std::vector<at::Tensor> roi_levels(feats.begin(), feats.begin() + 4);
  for (auto& [name, value] :
       roi_head->loss(roi_levels, batch.images, proposals, batch.gt_boxes, batch.gt_labels))
    losses[name] = value;
  return losses;
}

std::vector<Detections> FasterRCNNImpl::forward_test(const Batch& batch) {
  PrecisionScope scope(compute_precision(batch.images), batch.images.device().type());
  const auto feats = features(batch.images);
  const auto rpn_out = rpn_head->forward(feats);
  const auto anchors = proposer_.anchors(feats, batch.images);
  const auto proposals = proposer_.proposals(rpn_out, anchors, batch.metas, /*training=*/false);
  const std::vector<at::Tensor> roi_levels(feats.begin(), feats.begin() + 4);
  return roi_head->detect(roi_levels, batch.images, proposals, batch.metas);
}

void FasterRCNNImpl::forward_dummy(const at::Tensor& images, int64_t num_proposals) {
  PrecisionScope scope(compute_precision(images), images.device().type());
  const auto feats = features(images);
  rpn_head->forward(feats);
  // Boxes spread over the image at every pyramid level, as random proposals would be.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  auto xy = at::rand({num_proposals, 2}, gen) * 0.5 * images.size(3);
  auto wh = at::rand({num_proposals, 2}, gen) * 0.5 * images.size(2) + 1;
  auto boxes = at::cat({xy, xy + wh}, 1).to(images.options());
  const std::vector<at::Tensor> roi_levels(feats.begin(), feats.begin() + 4);
  roi_head->bbox_head->forward(roi_head->extract(roi_levels, boxes_to_rois({boxes}), images));
}

ParameterCount count_parameters(const torch::nn::Module& module) {
  ParameterCount count;
  for (const auto& p : module.parameters()) {
    count.total += p.numel();
    if (p.requires_grad()) count.trainable += p.numel();
  }
  return count;
}

}  // namespace mbmd::model
