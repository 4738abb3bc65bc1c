// Faster R-CNN with a ResNet backbone and one of the four necks: MBMDNet when the neck is MHFPN.
// Module names follow mmdetection 2.x (backbone, neck, rpn_head, roi_head.bbox_head).
#pragma once

#include <torch/nn/module.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mbmd/model/detector_options.h"
#include "mbmd/model/input_transform.h"
#include "mbmd/model/neck.h"
#include "mbmd/model/resnet.h"
#include "mbmd/model/roi_head.h"
#include "mbmd/model/rpn.h"

namespace mbmd::model {

class FasterRCNNImpl : public torch::nn::Module {
 public:
  explicit FasterRCNNImpl(const DetectorOptions& options);

  // Backbone and neck: the five pyramid levels, in FP32 (computed in runtime.precision).
  std::vector<at::Tensor> features(const at::Tensor& images);

  // Losses of a training step; the batch carries ground truth in input coordinates.
  std::map<std::string, at::Tensor> forward_train(const Batch& batch);

  // Detections in original image coordinates.
  std::vector<Detections> forward_test(const Batch& batch);

  // The network without post-processing on `num_proposals` fixed boxes, as mmdetection's
  // forward_dummy (used to count FLOPs).
  void forward_dummy(const at::Tensor& images, int64_t num_proposals);

  const DetectorOptions& options() const { return options_; }

  ResNet backbone{nullptr};
  std::shared_ptr<NeckImpl> neck;
  RPNHead rpn_head{nullptr};
  RoIHead roi_head{nullptr};

 private:
  void check_images(const at::Tensor& images) const;
  // runtime.precision where this device can run it (bf16 falls back to fp32 on older CPUs).
  Precision compute_precision(const at::Tensor& images) const;

  DetectorOptions options_;
  RegionProposer proposer_;
};
TORCH_MODULE(FasterRCNN);

// Parameter counts: all, and those with requires_grad (what mmdetection reports).
struct ParameterCount {
  int64_t total = 0;
  int64_t trainable = 0;
};
ParameterCount count_parameters(const torch::nn::Module& module);

}  // namespace mbmd::model
