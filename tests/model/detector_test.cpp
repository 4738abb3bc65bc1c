#include "mbmd/model/detector.h"

#include <gtest/gtest.h>

#include "mbmd/core/config.h"
#include "mbmd/core/error.h"
#include "mbmd/model/flop_counter.h"
#include "mbmd/model/necks/mhfpn.h"

namespace mbmd::model {
namespace {

DetectorOptions options_for(const std::string& config_name,
                            std::vector<std::string> overrides = {}) {
  Json config = load_config(config_name);
  apply_overrides(config, overrides);
  return detector_options_from_config(config);
}

// The paper's Tables 1 and 4 with two foreground classes (docs/design.md, "Model size").
TEST(Detector, TrainableParametersEqualThePaper) {
  const std::vector<std::pair<std::string, int64_t>> expected = {
      {"faster_rcnn_r50_fpn", 41127962},
      {"faster_rcnn_r50_pafpn", 44668442},
      {"faster_rcnn_r50_hrfpn", 41717274},
      {"mbmdnet_r50_mhfpn", 44799770}};
  for (const auto& [name, trainable] : expected) {
    FasterRCNN detector(options_for(name, {"model.num_classes=2"}));
    EXPECT_EQ(count_parameters(*detector).trainable, trainable) << name;
  }
}

TEST(Detector, NecksGiveFiveLevelsAtFpnSizes) {
  for (const std::string neck : {"fpn", "pafpn", "hrfpn", "mhfpn"}) {
    FasterRCNN detector(options_for("faster_rcnn_r50_fpn",
                                    {"model.neck.type=" + neck, "model.backbone.depth=18",
                                     "model.neck.out_channels=16", "model.rpn.feat_channels=16"}));
    detector->eval();
    at::NoGradGuard no_grad;
    for (auto [h, w] : {std::pair<int64_t, int64_t>{64, 96}, {100, 70}}) {
      const auto feats = detector->features(at::randn({1, 3, h, w}));
      ASSERT_EQ(feats.size(), 5u) << neck;
      // FPN's level sizes: each stride-2 step rounds up.
      int64_t fh = (h + 3) / 4, fw = (w + 3) / 4;
      for (size_t l = 0; l < 5; ++l) {
        EXPECT_EQ(feats[l].size(1), 16) << neck;
        EXPECT_EQ(feats[l].size(2), fh) << neck << " level " << l << " input " << h << "x" << w;
        EXPECT_EQ(feats[l].size(3), fw) << neck << " level " << l << " input " << h << "x" << w;
        fh = (fh + 1) / 2;
        fw = (fw + 1) / 2;
      }
    }
  }
}

TEST(Detector, MhfpnSharesPafpnConvZeroBetweenTwoOutputs) {
  FasterRCNN detector(options_for("mbmdnet_r50_mhfpn"));
  const auto params = detector->neck->named_parameters();
  EXPECT_TRUE(params.contains("reduction_conv.conv.weight"));
  EXPECT_EQ(params["reduction_conv.conv.weight"].sizes(), (std::vector<int64_t>{256, 512, 1, 1}));
  EXPECT_TRUE(params.contains("pafpn_convs.2.conv.bias"));
  EXPECT_FALSE(params.contains("pafpn_convs.3.conv.bias"));
}

TEST(Detector, GflopsAtPaperInputMatchPaper) {
  // Counted as mmdetection's get_flops at 1333x800 (padded to 1344x800); paper: 216.30 G.
  FasterRCNN detector(options_for("faster_rcnn_r50_fpn", {"model.num_classes=2"}));
  detector->eval();
  at::NoGradGuard no_grad;
  FlopCountScope scope;
  detector->forward_dummy(at::zeros({1, 3, 800, 1344}), 1000);
  EXPECT_NEAR(scope.flops() / 1e9, 216.30, 0.05);
}

TEST(Detector, UnknownNeckIsAClearError) {
  try {
    FasterRCNN detector(options_for("faster_rcnn_r50_fpn", {"model.neck.type=bifpn"}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bifpn"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("model.neck.type"), std::string::npos) << e.what();
  }
}

TEST(Detector, UnsupportedDepthIsAClearError) {
  EXPECT_THROW(FasterRCNN(options_for("faster_rcnn_r50_fpn", {"model.backbone.depth=42"})), Error);
}

TEST(Detector, WrongRankImageIsAClearError) {
  FasterRCNN detector(options_for("faster_rcnn_r50_fpn", {"model.backbone.depth=18"}));
  detector->eval();
  at::NoGradGuard no_grad;
  EXPECT_THROW(detector->features(at::zeros({3, 64, 64})), Error);
  EXPECT_THROW(detector->features(at::zeros({1, 1, 3, 64, 64})), Error);
  EXPECT_THROW(detector->features(at::zeros({1, 2, 64, 64})), Error);
  EXPECT_THROW(prepare_image(at::zeros({1, 1, 2, 64, 64}), InputOptions{}), Error);
  EXPECT_THROW(prepare_image(at::zeros({2, 64, 64}), InputOptions{}), Error);
}

TEST(Detector, TestModeReturnsBoxesInOriginalPixels) {
  FasterRCNN detector(options_for(
      "faster_rcnn_r50_fpn",
      {"model.backbone.depth=18", "input.scale=[160,96]", "model.roi.test.score_thr=0.0"}));
  detector->eval();
  at::NoGradGuard no_grad;
  const auto prepared = prepare_image(at::rand({300, 200}) * 255, detector->options().input);
  EXPECT_EQ(prepared.meta.height, 144);
  EXPECT_EQ(prepared.meta.width, 96);
  const auto dets = detector->forward_test(collate({prepared}, 32));
  ASSERT_EQ(dets.size(), 1u);
  ASSERT_GT(dets[0].boxes.size(0), 0);
  EXPECT_LE(dets[0].boxes.size(0), 100);
  EXPECT_LE(dets[0].boxes.select(1, 2).max().item<double>(), 200.0 + 1e-3);
  EXPECT_LE(dets[0].boxes.select(1, 3).max().item<double>(), 300.0 + 1e-3);
  EXPECT_GE(dets[0].boxes.min().item<double>(), 0.0);
}

// The CPU channels-last path (the default) against NCHW: same weights, same input; features in
// inference, and in training the features and the gradient of every trainable parameter, and the
// RPN's losses (whose sampling does not depend on the layout).
TEST(Resnet, ChannelsLastEqualsNchwInInferenceAndTraining) {
  const std::vector<std::string> small = {"model.backbone.depth=18", "input.scale=[160,128]"};
  auto make = [&](bool channels_last) {
    auto overrides = small;
    overrides.push_back(std::string("model.backbone.channels_last=") +
                        (channels_last ? "true" : "false"));
    at::manual_seed(5);  // the same initial weights for both
    return FasterRCNN(options_for("faster_rcnn_r50_fpn", overrides));
  };
  FasterRCNN nhwc = make(true), nchw = make(false);
  const auto images = at::randn({2, 3, 128, 160});
  auto relative = [](const at::Tensor& a, const at::Tensor& b) {
    return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
  };
  {
    nhwc->eval();
    nchw->eval();
    at::NoGradGuard no_grad;
    const auto a = nhwc->features(images), b = nchw->features(images);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_TRUE(a[0].is_contiguous(at::MemoryFormat::ChannelsLast));
    EXPECT_TRUE(b[0].is_contiguous());
    for (size_t l = 0; l < a.size(); ++l) EXPECT_LT(relative(a[l], b[l]), 1e-5) << "level " << l;
  }
  nhwc->train();
  nchw->train();
  const auto a = nhwc->features(images), b = nchw->features(images);
  at::Tensor loss_a = at::zeros({}), loss_b = at::zeros({});
  for (size_t l = 0; l < a.size(); ++l) {
    const auto w = at::randn(b[l].sizes());
    loss_a = loss_a + (a[l] * w).sum();
    loss_b = loss_b + (b[l] * w).sum();
    EXPECT_LT(relative(a[l], b[l]), 1e-5) << "training, level " << l;
  }
  loss_a.backward();
  loss_b.backward();
  const auto pa = nhwc->named_parameters(), pb = nchw->named_parameters();
  int compared = 0;
  for (const auto& item : pb) {
    if (!item.value().requires_grad() || !item.value().grad().defined()) continue;
    EXPECT_LT(relative(pa[item.key()].grad(), item.value().grad()), 1e-4) << item.key();
    ++compared;
  }
  EXPECT_GT(compared, 40);

  Batch batch = collate({prepare_image(at::rand({128, 160}) * 255, nchw->options().input),
                         prepare_image(at::rand({128, 160}) * 255, nchw->options().input)},
                        32);
  batch.gt_boxes = {at::tensor({20.0f, 30.0f, 70.0f, 90.0f}).view({1, 4}),
                    at::tensor({60.0f, 10.0f, 150.0f, 60.0f}).view({1, 4})};
  batch.gt_labels = {at::zeros({1}, at::kLong), at::zeros({1}, at::kLong)};
  at::manual_seed(9);
  const auto losses_a = nhwc->forward_train(batch);
  at::manual_seed(9);
  const auto losses_b = nchw->forward_train(batch);
  for (const std::string name : {"loss_rpn_cls", "loss_rpn_bbox"})
    EXPECT_NEAR(losses_a.at(name).item<double>(), losses_b.at(name).item<double>(),
                1e-4 * std::abs(losses_b.at(name).item<double>()) + 1e-6)
        << name;
}

}  // namespace
}  // namespace mbmd::model

namespace mbmd::model {
namespace {

TEST(Mhfpn, SplitAggregationEqualsConcatenation) {
  MHFPNImpl neck({64, 128, 256, 512}, 32);
  at::NoGradGuard no_grad;
  for (auto [h, w] : {std::pair<int64_t, int64_t>{20, 28}, {13, 7}}) {
    const auto fine = at::randn({2, 32, h, w});
    const auto coarse = at::randn({2, 32, (h + 1) / 2, (w + 1) / 2});
    const auto expected = neck.aggregate_by_concatenation(fine, coarse);
    const auto got = neck.aggregate(fine, coarse);
    ASSERT_EQ(got.sizes(), expected.sizes());
    EXPECT_TRUE(at::allclose(got, expected, 1e-5, 1e-5))
        << (got - expected).abs().max().item<double>();
  }
}

TEST(Mhfpn, GflopsAtPaperInputMatchPaper) {
  Json config = load_config("mbmdnet_r50_mhfpn");
  apply_overrides(config, {"model.num_classes=2"});
  FasterRCNN detector(detector_options_from_config(config));
  detector->eval();
  at::NoGradGuard no_grad;
  FlopCountScope scope;
  detector->forward_dummy(at::zeros({1, 3, 800, 1344}), 1000);
  EXPECT_NEAR(scope.flops() / 1e9, 291.36, 0.05);  // the paper's Table 1
}

}  // namespace
}  // namespace mbmd::model
