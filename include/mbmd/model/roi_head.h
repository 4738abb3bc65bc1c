// The RoI head: multi-level RoIAlign feature extraction, mmdetection's Shared2FCBBoxHead
// (roi_head.bbox_head.{shared_fcs.0, shared_fcs.1, fc_cls, fc_reg}) or Shared4Conv1FCBBoxHead
// (bbox_head.{shared_convs.0-3, shared_fcs.0, fc_cls, fc_reg}), its training losses and the
// test-time post-processing.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <array>
#include <map>
#include <mutex>
#include <vector>

#include "mbmd/model/detector_options.h"
#include "mbmd/model/input_transform.h"
#include "mbmd/model/layers.h"
#include "mbmd/ops/box_coder.h"

namespace mbmd::model {

struct Detections {
  at::Tensor boxes;   // [K, 4] x1 y1 x2 y2 in original image pixels
  at::Tensor scores;  // [K]
  at::Tensor labels;  // [K] int64, 0-based foreground class
};

class BBoxHeadImpl : public torch::nn::Module {
 public:
  // Takes RoI features of in_channels x output_size x output_size.
  BBoxHeadImpl(const RoIOptions& options, int64_t in_channels, int64_t num_classes);

  // Returns class logits [K, C + 1] and box deltas [K, 4 * C] (or 4 * (C + 1) with background
  // first).
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& roi_features);

  torch::nn::ModuleList shared_convs{nullptr}, shared_fcs{nullptr};
  std::vector<ConvModule> convs;
  Linear fc0{nullptr}, fc1{nullptr}, fc_cls{nullptr}, fc_reg{nullptr};  // fc1: 2fc only

 private:
  at::Tensor first_fc_as_convolution(const at::Tensor& roi_features);

  // fc0's weight as a channels-last convolution kernel, kept while the weight's data pointer and
  // version stay the same.
  at::Tensor conv_weight_;
  std::array<int64_t, 2> conv_weight_key_{};
  std::mutex conv_weight_mutex_;
};
TORCH_MODULE(BBoxHead);

class RoIHeadImpl : public torch::nn::Module {
 public:
  RoIHeadImpl(const DetectorOptions& options, int64_t in_channels);

  // Pools [K, C, 7, 7] features for rois [K, 5] (batch index, box) from the stride 4..32 levels.
  at::Tensor extract(const std::vector<at::Tensor>& features, const at::Tensor& rois,
                     const at::Tensor& images) const;

  std::map<std::string, at::Tensor> loss(const std::vector<at::Tensor>& features,
                                         const at::Tensor& images,
                                         const std::vector<at::Tensor>& proposals,
                                         const std::vector<at::Tensor>& gt_boxes,
                                         const std::vector<at::Tensor>& gt_labels);

  std::vector<Detections> detect(const std::vector<at::Tensor>& features, const at::Tensor& images,
                                 const std::vector<at::Tensor>& proposals,
                                 const std::vector<ImageMeta>& metas);

  BBoxHead bbox_head{nullptr};

 private:
  at::Tensor level_of(const at::Tensor& boxes) const;

  RoIOptions options_;
  int64_t num_classes_;
  ops::BoxCoder coder_;
};
TORCH_MODULE(RoIHead);

// [K, 5] rois (batch index, box) from per-image boxes.
at::Tensor boxes_to_rois(const std::vector<at::Tensor>& boxes);

}  // namespace mbmd::model
