#include "mbmd/model/norm.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "mbmd/core/config.h"
#include "mbmd/core/error.h"
#include "mbmd/io/checkpoint.h"
#include "mbmd/model/build.h"
#include "mbmd/model/detector.h"
#include "mbmd/model/weights.h"

namespace mbmd::model {
namespace {

namespace fs = std::filesystem;

// A small detector with GroupNorm and Weight Standardisation in every part and the 4conv1fc box
// head, as the from-scratch recipes build it (docs/training.md, "Training from scratch").
Json scratch_config(std::vector<std::string> overrides = {}) {
  Json config = load_config("faster_rcnn_r50_fpn");
  std::vector<std::string> base = {"model.backbone.depth=18",
                                   "model.backbone.norm=gn",
                                   "model.backbone.ws=true",
                                   "model.backbone.frozen_stages=-1",
                                   "model.backbone.norm_eval=false",
                                   "model.neck.norm=gn",
                                   "model.neck.ws=true",
                                   "model.roi.head=4conv1fc",
                                   "model.roi.norm=gn",
                                   "model.roi.conv_channels=64",
                                   "model.roi.fc_channels=128",
                                   "model.neck.out_channels=64",
                                   "model.rpn.feat_channels=64"};
  base.insert(base.end(), overrides.begin(), overrides.end());
  apply_overrides(config, base);
  return config;
}

bool has(const io::StateDict& state, const std::string& name) {
  for (const auto& [key, value] : state)
    if (key == name) return true;
  return false;
}

TEST(Norm, GroupNormModelsUseMmdetectionNames) {
  auto detector = build_detector(scratch_config());
  const auto state = model_state_dict(*detector);
  for (const std::string name :
       {"backbone.gn1.weight", "backbone.layer1.0.gn1.bias", "backbone.layer2.0.gn2.weight",
        "backbone.layer2.0.downsample.0.weight", "backbone.layer2.0.downsample.1.weight",
        "neck.lateral_convs.0.conv.weight", "neck.lateral_convs.0.gn.weight",
        "neck.fpn_convs.3.gn.bias", "roi_head.bbox_head.shared_convs.0.conv.weight",
        "roi_head.bbox_head.shared_convs.3.gn.weight", "roi_head.bbox_head.shared_fcs.0.weight",
        "roi_head.bbox_head.fc_cls.weight"})
    EXPECT_TRUE(has(state, name)) << name;
  for (const std::string name :
       {"backbone.bn1.weight", "backbone.layer1.0.bn1.running_mean",
        "neck.lateral_convs.0.conv.bias", "roi_head.bbox_head.shared_fcs.1.weight",
        "roi_head.bbox_head.shared_convs.0.conv.bias"})
    EXPECT_FALSE(has(state, name)) << name;
}

// mmdetection's Shared4Conv1FCBBoxHead at its defaults: four 3x3 convolutions of 256 channels
// without bias, each with a GroupNorm, one FC of 256 x 7 x 7 -> 1024, and the two outputs.
TEST(Norm, FourConvOneFcHeadHasMmdetectionsParameterCount) {
  Json config = load_config("faster_rcnn_r50_fpn");
  apply_overrides(config, {"model.roi.head=4conv1fc", "model.roi.norm=gn"});
  FasterRCNN detector(detector_options_from_config(config));
  const int64_t convs = 4 * (256 * 256 * 9 + 2 * 256);
  const int64_t fc = 256 * 7 * 7 * 1024 + 1024;
  const int64_t outputs = (1024 * 2 + 2) + (1024 * 4 + 4);
  int64_t count = 0;
  for (const auto& p : detector->roi_head->parameters()) count += p.numel();
  EXPECT_EQ(count, convs + fc + outputs);
}

TEST(Norm, GroupNormStateDictRoundTripsToTheSameDetections) {
  auto a = build_detector(scratch_config());
  auto b = build_detector(scratch_config());
  a->eval();
  b->eval();
  const auto dir = fs::temp_directory_path() / ("mbmd_gn_roundtrip_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  io::Checkpoint checkpoint;
  checkpoint.state_dict = model_state_dict(*a);
  const auto file = (dir / "gn.ckpt").string();
  io::save_checkpoint(file, checkpoint);
  const auto report = load_weights(*b, io::load_state_dict(file), file);
  EXPECT_TRUE(report.missing.empty());
  EXPECT_TRUE(report.unexpected.empty());
  at::NoGradGuard no_grad;
  const auto x = at::randn({1, 3, 96, 64});
  const auto fa = a->features(x), fb = b->features(x);
  for (size_t l = 0; l < fa.size(); ++l) EXPECT_TRUE(at::equal(fa[l], fb[l])) << "level " << l;
  fs::remove_all(dir);
}

TEST(Norm, WeightStandardisationIsMmcvsFormula) {
  const auto w = at::randn({8, 4, 3, 3}, at::kDouble) * 3 + 1;
  const auto s = standardise_weight(w);
  for (int64_t o = 0; o < 8; ++o) {
    const auto filter = w[o];
    const auto expected = (filter - filter.mean()) / (filter.std(/*unbiased=*/true) + 1e-5);
    EXPECT_TRUE(at::allclose(s[o], expected));
  }
}

// Standardised, a convolution's output does not change when its weight is scaled and shifted
// per filter: the property that keeps GN + WS training stable at batch 1-2.
TEST(Norm, StandardisedConvolutionIgnoresTheWeightsScaleAndShift) {
  Conv2d conv(torch::nn::Conv2dOptions(3, 6, 3).padding(1).bias(false));
  conv->standardised = true;
  at::NoGradGuard no_grad;
  const auto x = at::randn({1, 3, 10, 10});
  const auto before = conv(x);
  conv->weight.mul_(at::rand({6, 1, 1, 1}) + 0.5).add_(at::randn({6, 1, 1, 1}));
  EXPECT_TRUE(at::allclose(conv(x), before, 1e-4, 1e-4));
  conv->standardised = false;
  EXPECT_FALSE(at::allclose(conv(x), before, 1e-4, 1e-4));
}

TEST(Norm, BadChoicesAreNamedErrors) {
  auto message = [](std::vector<std::string> overrides) {
    try {
      detector_options_from_config(scratch_config(std::move(overrides)));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message({"model.backbone.norm=none"}).find("model.backbone.norm"), std::string::npos);
  EXPECT_NE(message({"model.neck.norm=ln"}).find("model.neck.norm"), std::string::npos);
  EXPECT_NE(message({"model.roi.head=3fc"}).find("model.roi.head"), std::string::npos);
  EXPECT_NE(message({"model.neck.norm=none"}).find("model.neck.ws"), std::string::npos);
  EXPECT_THROW(build_detector(scratch_config({"model.norm_groups=24"})), Error);
}

}  // namespace
}  // namespace mbmd::model
