// Every model setting, read from the `model` and `input` parts of a config (docs/config.md).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "mbmd/core/config.h"
#include "mbmd/model/assigner.h"
#include "mbmd/model/norm.h"
#include "mbmd/model/precision.h"
#include "mbmd/model/resnet.h"
#include "mbmd/ops/anchor_generator.h"

namespace mbmd::model {

struct ProposalOptions {
  int64_t pre_nms_top_n = 1000;   // per level
  int64_t post_nms_top_n = 1000;  // per image
  double nms_iou = 0.7;
};

struct RPNOptions {
  int64_t feat_channels = 256;
  std::array<double, 4> target_stds{1, 1, 1, 1};
  bool clamp_min_delta = true;
  double min_box_size = 0.0;
  AssignOptions assign{0.7, 0.3, 0.3, true};
  int64_t num_samples = 256;
  double pos_fraction = 0.5;
  ProposalOptions train{2000, 1000, 0.7};
  ProposalOptions test{1000, 1000, 0.7};
};

struct RoIOptions {
  int64_t output_size = 7;
  int64_t sampling_ratio = 0;
  bool aligned = true;
  std::string level_mapping = "mmdet";  // or "torchvision"
  double finest_scale = 56.0;
  // The box head: "2fc" (mmdetection's Shared2FCBBoxHead) or "4conv1fc" (Shared4Conv1FCBBoxHead:
  // four 3x3 convolutions of conv_channels with `norm` and ReLU, then one FC).
  std::string head = "2fc";
  int64_t conv_channels = 256;
  NormOptions norm;
  int64_t fc_channels = 1024;
  // torchvision: class 0 is background and the box predictor has outputs for it.
  bool background_first = false;
  std::array<double, 4> target_stds{0.1, 0.1, 0.2, 0.2};
  bool clamp_min_delta = true;
  AssignOptions assign{0.5, 0.5, 0.5, false};
  int64_t num_samples = 512;
  double pos_fraction = 0.25;
  bool add_gt_as_proposals = true;
  double score_thr = 0.05;
  double nms_iou = 0.5;
  int64_t max_per_img = 100;
  double min_box_size = 0.0;
  // mmdetection rescales boxes to the original image before NMS; torchvision after.
  bool nms_in_original_scale = true;
};

// input.crop_breast: the network sees the breast region only (docs/design.md, "Breast region").
struct BreastCropOptions {
  bool enabled = false;
  double threshold = 20.0;  // grey level 0..255 the breast is brighter than
  int64_t margin = 16;      // pixels added on every side of the component's box
};

struct InputOptions {
  int64_t max_long = 1333;
  int64_t max_short = 800;
  std::string resize = "mmdet";  // or "torchvision"
  std::array<double, 3> mean{123.675, 116.28, 103.53};
  std::array<double, 3> std{58.395, 57.12, 57.375};
  bool unit_range = false;  // divide by 255 before normalising (torchvision)
  int64_t size_divisor = 32;
  double flip_prob = 0.5;
  BreastCropOptions crop_breast;
  // Mirror films whose breast lies in the right half, so that every breast is on the left
  // (found with crop_breast.threshold; recorded as ImageMeta::flipped).
  bool canonical_side = false;
};

struct DetectorOptions {
  int64_t num_classes = 1;  // foreground classes
  ResNetOptions backbone;
  std::string pretrained;
  std::string neck = "fpn";
  int64_t neck_channels = 256;
  NormOptions neck_norm;
  ops::AnchorGeneratorOptions anchors;
  RPNOptions rpn;
  RoIOptions roi;
  InputOptions input;
  Precision precision = Precision::fp32;  // runtime.precision
};

// Reads and checks the options; a bad value is an mbmd::Error naming its key.
DetectorOptions detector_options_from_config(const Json& config);

}  // namespace mbmd::model
