// Region proposal network: mmdetection's RPNHead (rpn_conv, rpn_cls, rpn_reg), proposal selection
// and the training losses.
#pragma once

#include <torch/nn/module.h>

#include <map>
#include <vector>

#include "mbmd/model/detector_options.h"
#include "mbmd/model/input_transform.h"
#include "mbmd/model/layers.h"
#include "mbmd/ops/anchor_generator.h"
#include "mbmd/ops/box_coder.h"

namespace mbmd::model {

struct RPNOutput {
  std::vector<at::Tensor> objectness;  // per level [N, A, H, W]
  std::vector<at::Tensor> deltas;      // per level [N, 4A, H, W]
};

class RPNHeadImpl : public torch::nn::Module {
 public:
  RPNHeadImpl(int64_t in_channels, int64_t feat_channels, int64_t num_anchors);
  RPNOutput forward(const std::vector<at::Tensor>& features);

  Conv2d rpn_conv{nullptr}, rpn_cls{nullptr}, rpn_reg{nullptr};
};
TORCH_MODULE(RPNHead);

class RegionProposer {
 public:
  explicit RegionProposer(const DetectorOptions& options);

  std::vector<at::Tensor> anchors(const std::vector<at::Tensor>& features,
                                  const at::Tensor& images) const;

  // Proposals per image, [K, 4] boxes in input coordinates (no gradient).
  std::vector<at::Tensor> proposals(const RPNOutput& out, const std::vector<at::Tensor>& anchors,
                                    const std::vector<ImageMeta>& metas, bool training) const;

  // {"loss_rpn_cls", "loss_rpn_bbox"}: BCE and L1 averaged over the sampled anchors of the batch.
  std::map<std::string, at::Tensor> loss(const RPNOutput& out,
                                         const std::vector<at::Tensor>& anchors,
                                         const std::vector<at::Tensor>& gt_boxes) const;

 private:
  RPNOptions options_;
  ops::AnchorGenerator anchor_generator_;
  ops::BoxCoder coder_;
};

}  // namespace mbmd::model
