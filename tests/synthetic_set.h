// A tiny synthetic detection set for the engine and command tests: dark noise with one bright
// blob (the "mass") per image, written as 8-bit PNGs with a COCO json, and a tiny config
// (ResNet-18, 128x96 input) that trains on it in seconds.
#pragma once

#include <ATen/ATen.h>

#include <filesystem>
#include <string>
#include <vector>

#include "mbmd/core/config.h"
#include "mbmd/data/coco.h"
#include "mbmd/data/png.h"
#include "mbmd/model/roi_head.h"

namespace mbmd::testing {

// Two detections in original pixels: [10,20,30,60] class 0 at 0.9, [5,5,9,7] class 1 at 0.2.
inline model::Detections two_detections() {
  model::Detections d;
  d.boxes = at::tensor({10.0f, 20.0f, 30.0f, 60.0f, 5.0f, 5.0f, 9.0f, 7.0f}).view({2, 4});
  d.scores = at::tensor({0.9f, 0.2f});
  d.labels = at::tensor({0, 1}, at::kLong);
  return d;
}

// Writes `count` images of width x height into `folder` and `folder`/set.json; returns the json's
// path. Image i has a blob of radius 8 + 2 * (i % 3) at a place that depends on i.
inline std::string write_synthetic_set(const std::string& folder, int count, int width = 128,
                                       int height = 96) {
  std::filesystem::create_directories(folder);
  data::Dataset dataset;
  dataset.name = "synthetic";
  dataset.categories = {"mass"};
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1234);
  for (int i = 0; i < count; ++i) {
    const float r = 8.0f + 2.0f * static_cast<float>(i % 3);
    const float cx = 20.0f + static_cast<float>((i * 37) % (width - 40));
    const float cy = 20.0f + static_cast<float>((i * 23) % (height - 40));
    auto ys = at::arange(height, at::kFloat).view({height, 1});
    auto xs = at::arange(width, at::kFloat).view({1, width});
    auto d2 = (xs - cx).pow(2) + (ys - cy).pow(2);
    auto blob = at::exp(-d2 / (2.0f * r * r / 4.0f)) * 200.0f;
    auto noise = at::rand({height, width}, gen) * 40.0f;
    auto image = (blob + noise).clamp(0, 255);
    data::Sample s;
    s.image_id = "syn" + std::to_string(i);
    s.file = (std::filesystem::path(folder) / (s.image_id + ".png")).string();
    s.patient_id = "p" + std::to_string(i);
    s.width = width;
    s.height = height;
    s.boxes = at::tensor({cx - r, cy - r, cx + r, cy + r}, at::kFloat).view({1, 4});
    s.labels = at::zeros({1}, at::kLong);
    data::write_png(s.file, image, 8);
    dataset.samples.push_back(s);
  }
  const std::string json = (std::filesystem::path(folder) / "set.json").string();
  data::write_coco(json, dataset);
  return json;
}

// A config that trains on `ann_file` (every image in training and validation) in seconds.
inline Json tiny_config(const std::string& ann_file) {
  Json config = default_config();
  apply_overrides(config, {"model.backbone.depth=18",
                           "input.scale=[128,96]",
                           "model.rpn.train.pre_nms_top_n=200",
                           "model.rpn.train.post_nms_top_n=100",
                           "model.rpn.test.pre_nms_top_n=100",
                           "model.rpn.test.post_nms_top_n=50",
                           "model.roi.train.num_samples=64",
                           "model.roi.fc_channels=64",
                           "data.dataset=coco",
                           "data.ann_file=" + ann_file,
                           "data.split=none",
                           "data.workers=1",
                           "train.epochs=2",
                           "train.batch_size=2",
                           "train.lr=0.01",
                           "train.scale_lr=false",
                           "train.warmup_iters=2",
                           "train.steps=[1]",
                           "train.log_interval=1",
                           "runtime.threads=2"});
  return config;
}

}  // namespace mbmd::testing
