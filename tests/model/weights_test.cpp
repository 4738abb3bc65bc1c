#include "mbmd/model/weights.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "mbmd/core/config.h"
#include "mbmd/core/error.h"
#include "mbmd/model/build.h"
#include "mbmd/model/detector.h"
#include "mbmd_paths.h"
#include "python_interpreter.h"

namespace mbmd::model {
namespace {

namespace fs = std::filesystem;

Json small_config(std::vector<std::string> overrides = {}) {
  Json config = load_config("faster_rcnn_r50_fpn");
  overrides.insert(overrides.begin(), "model.backbone.depth=18");
  apply_overrides(config, overrides);
  return config;
}

fs::path temp_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

TEST(Weights, OwnCheckpointRoundTripGivesTheSameOutputs) {
  auto a = build_detector(small_config());
  auto b = build_detector(small_config());
  a->eval();
  b->eval();
  const auto dir = temp_dir("mbmd_weights_roundtrip");
  io::Checkpoint ckpt;
  ckpt.state_dict = model_state_dict(*a);
  io::save_checkpoint((dir / "model.ckpt").string(), ckpt);
  const auto report =
      load_weights(*b, io::load_state_dict((dir / "model.ckpt").string()), "model.ckpt");
  EXPECT_EQ(report.format, "mbmd");
  EXPECT_TRUE(report.missing.empty());
  EXPECT_TRUE(report.unexpected.empty());
  at::NoGradGuard no_grad;
  const auto x = at::randn({1, 3, 64, 64});
  const auto fa = a->features(x), fb = b->features(x);
  for (size_t l = 0; l < fa.size(); ++l) EXPECT_TRUE(at::equal(fa[l], fb[l]));
  fs::remove_all(dir);
}

TEST(Weights, WrongShapeIsAClearError) {
  auto detector = build_detector(small_config());
  io::StateDict bad{{"roi_head.bbox_head.fc_cls.weight", at::zeros({5, 1024})}};
  try {
    load_weights(*detector, bad, "other.pth");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("other.pth"), std::string::npos) << message;
    EXPECT_NE(message.find("fc_cls.weight"), std::string::npos) << message;
    EXPECT_NE(message.find("[5, 1024]"), std::string::npos) << message;
  }
}

TEST(Weights, UnknownNamesAreReportedNotLoaded) {
  auto detector = build_detector(small_config());
  io::StateDict extra{{"something.else", at::zeros({3})}};
  const auto report = load_weights(*detector, extra, "x.pth");
  ASSERT_EQ(report.unexpected.size(), 1u);
  EXPECT_EQ(report.unexpected[0], "something.else");
  EXPECT_EQ(report.missing.size(), model_state_dict(*detector).size() -
                                       20 /* ResNet-18's BatchNorm counters are never missing */);
}

TEST(Weights, TorchvisionNamesTranslate) {
  EXPECT_EQ(torchvision_to_mmdet_name("backbone.body.layer1.0.conv1.weight"),
            "backbone.layer1.0.conv1.weight");
  EXPECT_EQ(torchvision_to_mmdet_name("backbone.fpn.inner_blocks.2.0.bias"),
            "neck.lateral_convs.2.conv.bias");
  EXPECT_EQ(torchvision_to_mmdet_name("backbone.fpn.layer_blocks.3.weight"),
            "neck.fpn_convs.3.conv.weight");
  EXPECT_EQ(torchvision_to_mmdet_name("rpn.head.conv.0.0.weight"), "rpn_head.rpn_conv.weight");
  EXPECT_EQ(torchvision_to_mmdet_name("roi_heads.box_head.fc7.bias"),
            "roi_head.bbox_head.shared_fcs.1.bias");
  EXPECT_EQ(torchvision_to_mmdet_name("roi_heads.box_predictor.bbox_pred.weight"),
            "roi_head.bbox_head.fc_reg.weight");
}

// An ImageNet ResNet file as torchvision distributes it (state_dict with fc.*) loads into the
// backbone by name through model.backbone.pretrained.
TEST(Weights, TorchvisionImagenetResnetLoadsIntoTheBackbone) {
  const auto dir = temp_dir("mbmd_weights_imagenet");
  const auto file = (dir / "resnet18.pth").string();
  const std::string command = mbmd::testing::python_interpreter() +
                              " -c \"import torch, torchvision; torch.manual_seed(0); "
                              "torch.save(torchvision.models.resnet18().state_dict(), '" +
                              file + "')\"";
  ASSERT_EQ(std::system(command.c_str()), 0)
      << "needs Debian's python3-torchvision (or MBMD_PYTHON naming a Python with torchvision)";
  std::ostringstream log;
  auto detector = build_detector(small_config({"model.backbone.pretrained=" + file}), &log);
  // 122 entries: 120 backbone tensors (BatchNorm counters included) and fc.weight, fc.bias.
  EXPECT_NE(log.str().find("loaded 120 tensors"), std::string::npos) << log.str();
  const auto report = load_weights(*detector, io::load_state_dict(file), file);
  EXPECT_EQ(report.format, "resnet");
  EXPECT_TRUE(report.missing.empty());
  EXPECT_EQ(report.unexpected, (std::vector<std::string>{"fc.weight", "fc.bias"}));
  const auto loaded = io::load_state_dict(file);
  EXPECT_TRUE(at::equal(detector->backbone->named_parameters()["layer4.1.conv2.weight"],
                        io::find_tensor(loaded, "layer4.1.conv2.weight")));
  fs::remove_all(dir);
}

TEST(Weights, PretrainedOfTheWrongDepthIsAClearError) {
  const auto dir = temp_dir("mbmd_weights_depth");
  const auto file = (dir / "partial.pth").string();
  io::Checkpoint ckpt;
  ckpt.state_dict = {{"conv1.weight", at::zeros({64, 3, 7, 7})}};
  io::save_checkpoint(file, ckpt);
  EXPECT_THROW(build_detector(small_config({"model.backbone.pretrained=" + file})), Error);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mbmd::model
