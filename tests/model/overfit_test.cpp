// Learning works: a small config (ResNet-18, short side 256) overfits a few synthetic images with
// bright blobs: the total loss falls at least 5x and recall at IoU 0.5 reaches 0.9; in bf16 the
// trained model's confident detections keep their twins.
#include <gtest/gtest.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/sgd.h>

#include <cstdio>

#include "mbmd/core/config.h"
#include "mbmd/model/detector.h"
#include "mbmd/model/precision.h"
#include "mbmd/model/weights.h"
#include "mbmd/ops/box_ops.h"

namespace mbmd::model {
namespace {

struct SyntheticImage {
  at::Tensor pixels;  // [H, W], 0..255
  at::Tensor boxes;   // [G, 4]
};

SyntheticImage blob_image(int64_t h, int64_t w, const std::vector<std::array<float, 3>>& blobs,
                          at::Generator& gen) {
  auto img = at::rand({h, w}, gen) * 40.0 + 20.0;
  const auto ys = at::arange(h, at::kFloat).view({h, 1});
  const auto xs = at::arange(w, at::kFloat).view({1, w});
  std::vector<float> boxes;
  for (const auto& [cx, cy, r] : blobs) {
    const auto inside = ((xs - cx).square() + (ys - cy).square()).le(r * r);
    img = at::where(inside, img + 150.0, img);
    boxes.insert(boxes.end(), {cx - r, cy - r, cx + r, cy + r});
  }
  return {img.clamp(0, 255), at::tensor(boxes).view({-1, 4})};
}

TEST(Overfit, SmallConfigLearnsBlobs) {
  at::manual_seed(0);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  Json config = load_config("faster_rcnn_r50_fpn");
  apply_overrides(config,
                  {"model.backbone.depth=18", "model.backbone.frozen_stages=-1",
                   "model.backbone.norm_eval=false", "input.scale=[256,256]",
                   "model.rpn.train.pre_nms_top_n=500", "model.rpn.train.post_nms_top_n=300",
                   "model.roi.train.num_samples=128"});
  FasterRCNN detector(detector_options_from_config(config));
  const auto& input = detector->options().input;

  std::vector<SyntheticImage> images{blob_image(256, 256, {{{60, 70, 20}}, {{180, 170, 35}}}, gen),
                                     blob_image(256, 256, {{{128, 90, 28}}}, gen),
                                     blob_image(256, 256, {{{70, 190, 16}}, {{190, 60, 24}}}, gen),
                                     blob_image(256, 256, {{{150, 150, 40}}}, gen)};
  std::vector<PreparedImage> prepared;
  for (const auto& im : images) prepared.push_back(prepare_image(im.pixels, input));

  auto make_batch = [&](size_t first) {
    Batch batch = collate({prepared[first], prepared[first + 1]}, input.size_divisor);
    for (size_t i = first; i < first + 2; ++i) {
      batch.gt_boxes.push_back(boxes_to_input(images[i].boxes, prepared[i].meta));
      batch.gt_labels.push_back(at::zeros({images[i].boxes.size(0)}, at::kLong));
    }
    return batch;
  };
  std::vector<Batch> batches{make_batch(0), make_batch(2)};

  std::vector<at::Tensor> trainable;
  for (auto& p : detector->parameters())
    if (p.requires_grad()) trainable.push_back(p);
  torch::optim::SGD optimizer(trainable,
                              torch::optim::SGDOptions(0.01).momentum(0.9).weight_decay(1e-4));

  double first_loss = 0, last_loss = 0;
  const int iterations = 120;
  detector->train();
  for (int it = 0; it < iterations; ++it) {
    const double warmup = std::min(1.0, 0.1 + it / 20.0);
    for (auto& group : optimizer.param_groups())
      static_cast<torch::optim::SGDOptions&>(group.options()).lr(0.01 * warmup);
    const auto losses = detector->forward_train(batches[it % 2]);
    at::Tensor total = at::zeros({});
    for (const auto& [name, value] : losses) total = total + value;
    optimizer.zero_grad();
    total.backward();
    torch::nn::utils::clip_grad_norm_(trainable, 10.0);
    optimizer.step();
    const double value = total.item<double>();
    ASSERT_TRUE(std::isfinite(value)) << "iteration " << it;
    if (it < 2) first_loss += value / 2;
    if (it >= iterations - 2) last_loss += value / 2;
  }
  std::printf("loss %.4f -> %.4f (%.1fx)\n", first_loss, last_loss, first_loss / last_loss);
  EXPECT_GE(first_loss / last_loss, 5.0);

  detector->eval();
  at::NoGradGuard no_grad;
  int hits = 0, total_gt = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    const auto dets = detector->forward_test(collate({prepared[i]}, input.size_divisor))[0];
    const auto confident = at::nonzero(dets.scores.ge(0.5)).squeeze(1);
    const auto boxes = dets.boxes.index_select(0, confident);
    total_gt += images[i].boxes.size(0);
    if (boxes.size(0) == 0) continue;
    const auto iou = ops::box_iou(images[i].boxes, boxes);
    hits += std::get<0>(iou.max(1)).ge(0.5).sum().item<int>();
  }
  const double recall = static_cast<double>(hits) / total_gt;
  std::printf("recall at IoU 0.5, score 0.5: %d / %d = %.2f\n", hits, total_gt, recall);
  EXPECT_GE(recall, 0.9);

  // The trained weights run in bf16 (runtime.precision): at least 90% of the FP32 detections
  // scoring 0.3 or more keep a twin (IoU >= 0.8, score within 0.05).
  if (!cpu_supports_bf16()) return;
  apply_overrides(config, {"runtime.precision=bf16"});
  FasterRCNN bf16(detector_options_from_config(config));
  load_weights(*bf16, model_state_dict(*detector), "trained weights");
  bf16->eval();
  int64_t confident = 0, twins = 0;
  for (const auto& image : prepared) {
    const Batch one = collate({image}, input.size_divisor);
    const auto a = detector->forward_test(one)[0], b = bf16->forward_test(one)[0];
    const auto keep = at::nonzero(a.scores.ge(0.3)).squeeze(1);
    confident += keep.size(0);
    if (keep.size(0) == 0 || b.boxes.size(0) == 0) continue;
    const auto iou = ops::box_iou(a.boxes.index_select(0, keep), b.boxes);
    const auto close =
        (a.scores.index_select(0, keep).unsqueeze(1) - b.scores.unsqueeze(0)).abs().le(0.05);
    twins += (iou.ge(0.8) & close).any(1).sum().item<int64_t>();
  }
  std::printf("bf16 twins of fp32 detections scoring >= 0.3: %ld / %ld\n", static_cast<long>(twins),
              static_cast<long>(confident));
  ASSERT_GT(confident, 0);
  EXPECT_GE(static_cast<double>(twins), 0.9 * static_cast<double>(confident));
}

}  // namespace
}  // namespace mbmd::model
