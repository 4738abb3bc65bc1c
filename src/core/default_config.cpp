// Built-in defaults: mmdetection 2.x faster_rcnn_r50_fpn_1x
// (docs/design.md, "Faster R-CNN defaults"). docs/config.md documents every key; a key missing here
// is unknown to the product.
#include "mbmd/core/config.h"

namespace mbmd {

namespace {

constexpr const char* kDefaults = R"json({
  "model": {
    "num_classes": 1,
    "norm_groups": 32,
    "backbone": {
      "type": "resnet",
      "depth": 50,
      "frozen_stages": 1,
      "norm_eval": true,
      "norm": "bn",
      "ws": false,
      "channels_last": true,
      "pretrained": ""
    },
    "neck": {
      "type": "fpn",
      "out_channels": 256,
      "norm": "none",
      "ws": false
    },
    "anchor": {
      "scales": [8.0],
      "ratios": [0.5, 1.0, 2.0],
      "strides": [4, 8, 16, 32, 64],
      "sizes": [],
      "round_base": false,
      "stride_from_feature_size": false
    },
    "rpn": {
      "feat_channels": 256,
      "target_stds": [1.0, 1.0, 1.0, 1.0],
      "clamp_min_delta": true,
      "train": {
        "pos_iou_thr": 0.7,
        "neg_iou_thr": 0.3,
        "min_pos_iou": 0.3,
        "num_samples": 256,
        "pos_fraction": 0.5,
        "pre_nms_top_n": 2000,
        "post_nms_top_n": 1000,
        "nms_iou": 0.7
      },
      "test": {
        "pre_nms_top_n": 1000,
        "post_nms_top_n": 1000,
        "nms_iou": 0.7
      },
      "min_box_size": 0.0
    },
    "roi": {
      "output_size": 7,
      "sampling_ratio": 0,
      "aligned": true,
      "level_mapping": "mmdet",
      "finest_scale": 56.0,
      "head": "2fc",
      "conv_channels": 256,
      "norm": "none",
      "ws": false,
      "fc_channels": 1024,
      "background_first": false,
      "target_stds": [0.1, 0.1, 0.2, 0.2],
      "clamp_min_delta": true,
      "train": {
        "pos_iou_thr": 0.5,
        "neg_iou_thr": 0.5,
        "num_samples": 512,
        "pos_fraction": 0.25,
        "add_gt_as_proposals": true
      },
      "test": {
        "score_thr": 0.05,
        "nms_iou": 0.5,
        "max_per_img": 100,
        "min_box_size": 0.0,
        "nms_in_original_scale": true
      }
    }
  },
  "input": {
    "scale": [1333, 800],
    "resize": "mmdet",
    "mean": [123.675, 116.28, 103.53],
    "std": [58.395, 57.12, 57.375],
    "unit_range": false,
    "size_divisor": 32,
    "flip_prob": 0.5,
    "crop_breast": {
      "enabled": false,
      "threshold": 20.0,
      "margin": 16
    },
    "canonical_side": false
  },
  "augment": {
    "vflip_prob": 0.0,
    "scale_range": [0, 0],
    "crop_prob": 0.0,
    "crop_min_size": 0.6,
    "gamma": [1.0, 1.0],
    "contrast": [1.0, 1.0],
    "brightness": [0.0, 0.0],
    "copy_paste_prob": 0.0,
    "copy_paste_max": 1
  },
  "data": {
    "dataset": "coco",
    "root": "",
    "ann_file": "",
    "classes": ["mass"],
    "separate_classes": false,
    "masses_only": false,
    "split_file": "",
    "split_seed": 0,
    "permutation": 0,
    "split": "cv",
    "cache": true,
    "workers": 2,
    "skip_bad": false,
    "max_pixels": 100000000,
    "max_frames": 1000
  },
  "train": {
    "epochs": 12,
    "batch_size": 2,
    "lr": 0.02,
    "lr_base_batch": 16,
    "scale_lr": true,
    "momentum": 0.9,
    "weight_decay": 0.0001,
    "norm_decay_mult": 1.0,
    "bias_decay_mult": 1.0,
    "warmup_iters": 500,
    "warmup_ratio": 0.001,
    "schedule": "step",
    "steps": [8, 11],
    "gamma": 0.1,
    "min_lr_ratio": 0.0,
    "grad_clip": 0.0,
    "load_from": "",
    "seed": 0,
    "val_interval": 1,
    "best_metric": "ap50",
    "log_interval": 10
  },
  "eval": {
    "iou_thrs": [0.2, 0.5, 0.75],
    "hit": "iou",
    "hit_iou": 0.5,
    "score_thr": -1.0,
    "fppi_cap": 1.0,
    "threshold_rule": "highest",
    "count_normals": true,
    "area_scale_short_side": 800,
    "variant": "single"
  },
  "runtime": {
    "threads": 0,
    "device": "cpu",
    "precision": "fp32"
  }
})json";

}  // namespace

const Json& default_config() {
  static const Json defaults = Json::parse(kDefaults);
  return defaults;
}

}  // namespace mbmd
