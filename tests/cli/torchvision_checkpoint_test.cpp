// A torchvision fasterrcnn_resnet50_fpn state dict for one class of masses (torchvision's
// num_classes=2: background + mass, cls_score [2, 1024]) in the three commands that take a model:
// `mbmd predict`, `mbmd eval --checkpoint` and `mbmd train --set train.load_from=...`, each with
// the config torchvision_fasterrcnn_r50_fpn and `--set model.num_classes=1`. The file is written
// by Debian's python3-torchvision at set-up (MBMD_PYTHON names another interpreter); without it
// the tests skip. Inputs are 128x96 so that the full ResNet-50 runs in seconds.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/eval_json.h"
#include "cli/run_mbmd.h"
#include "mbmd/io/checkpoint.h"
#include "mbmd_paths.h"
#include "python_interpreter.h"
#include "synthetic_set.h"

namespace {

namespace fs = std::filesystem;

using mbmd::testing::ProgramRun;
using mbmd::testing::run_command;
using mbmd::testing::run_mbmd;

// torchvision 0.14's detector with background + mass, random weights (seeded), as torch.save
// writes a state dict.
const char* kWriteCheckpoint = R"PY(
import sys, torch, torchvision
torch.manual_seed(0)
model = torchvision.models.detection.fasterrcnn_resnet50_fpn(
    weights=None, weights_backbone=None, num_classes=2)
sd = model.state_dict()
assert tuple(sd["roi_heads.box_predictor.cls_score.weight"].shape) == (2, 1024)
assert tuple(sd["roi_heads.box_predictor.bbox_pred.weight"].shape) == (8, 1024)
torch.save(sd, sys.argv[1])
print("wrote", len(sd), "tensors")
)PY";

// The config and small test-time settings every command below shares (128x96 input, fewer
// proposals).
const std::string kConfig =
    " --config torchvision_fasterrcnn_r50_fpn --set 'input.scale=[128,96]'"
    " --set model.rpn.test.pre_nms_top_n=200 --set model.rpn.test.post_nms_top_n=100"
    " --set runtime.threads=2";

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class TorchvisionCheckpoint : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() /
                         ("mbmd_tv_checkpoint_" + std::to_string(::getpid())));
    fs::remove_all(*root_);
    fs::create_directories(*root_);
    const std::string python = mbmd::testing::python_interpreter();
    python_ok_ =
        run_command(python + " -c 'import torch, torchvision' >/dev/null 2>&1").status == 0;
    if (!python_ok_) return;
    std::ofstream(*root_ / "write_checkpoint.py") << kWriteCheckpoint;
    generator_ =
        new ProgramRun(run_command(python + " '" + (*root_ / "write_checkpoint.py").string() +
                                   "' '" + (*root_ / "tv2.pth").string() + "' 2>&1"));
    ann_ = new std::string(mbmd::testing::write_synthetic_set((*root_ / "films").string(), 3));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
    delete generator_;
    delete ann_;
    root_ = nullptr;
    generator_ = nullptr;
    ann_ = nullptr;
  }

  void SetUp() override {
    if (!fs::exists(MBMD_BINARY)) GTEST_FAIL() << MBMD_BINARY << " is missing: build mbmd first";
    if (!python_ok_)
      GTEST_SKIP() << mbmd::testing::python_interpreter()
                   << " with torch and torchvision is not installed";
    ASSERT_EQ(generator_->status, 0) << "writing the torchvision checkpoint failed:\n"
                                     << generator_->output;
  }

  static std::string path(const std::string& name) { return (*root_ / name).string(); }
  static std::string checkpoint() { return path("tv2.pth"); }
  static std::string film(int i) {
    return (*root_ / "films" / ("syn" + std::to_string(i) + ".png")).string();
  }

  // Every entry of a COCO results file is a detection of class 1 (mass) on `image_id`.
  static void expect_mass_detections(const std::string& file, const std::string& image_id) {
    ASSERT_TRUE(fs::exists(file)) << file;
    const auto dets = nlohmann::json::parse(slurp(file));
    ASSERT_TRUE(dets.is_array()) << dets.dump();
    ASSERT_FALSE(dets.empty()) << "no detections in " << file;
    for (const auto& d : dets) {
      EXPECT_EQ(d.at("category_id"), 1) << d.dump();
      EXPECT_EQ(d.at("image_id"), image_id) << d.dump();
      const double score = d.at("score").get<double>();
      EXPECT_TRUE(score >= 0.0 && score <= 1.0) << d.dump();
      EXPECT_EQ(d.at("bbox").size(), 4u) << d.dump();
    }
  }

  static fs::path* root_;
  static bool python_ok_;
  static ProgramRun* generator_;
  static std::string* ann_;
};

fs::path* TorchvisionCheckpoint::root_ = nullptr;
bool TorchvisionCheckpoint::python_ok_ = false;
ProgramRun* TorchvisionCheckpoint::generator_ = nullptr;
std::string* TorchvisionCheckpoint::ann_ = nullptr;

TEST_F(TorchvisionCheckpoint, PredictWithOneClass) {
  const std::string out = path("dets.json");
  const ProgramRun r = run_mbmd("predict" + kConfig + " --set model.num_classes=1 --checkpoint '" +
                                checkpoint() + "' '" + film(0) + "' --out '" + out + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_mass_detections(out, "syn0");
}

TEST_F(TorchvisionCheckpoint, PredictWithoutTheClassCountNamesTheShapeMismatch) {
  // The config's 90 classes (torchvision's COCO models) do not fit a 2-row box predictor.
  const std::string out = path("dets_refused.json");
  const ProgramRun r = run_mbmd("predict" + kConfig + " --checkpoint '" + checkpoint() + "' '" +
                                film(0) + "' --out '" + out + "'");
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("roi_heads.box_predictor.cls_score.weight"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("[2, 1024]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[91, 1024]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("tv2.pth"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(TorchvisionCheckpoint, EvalWithOneClass) {
  const ProgramRun r =
      run_mbmd("eval --checkpoint '" + checkpoint() + "'" + kConfig +
               " --set model.num_classes=1 --set data.dataset=coco" + " --set data.ann_file='" +
               *ann_ + "' --set data.split=none" + " --split test --hit center --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("on 3 images (test)"), std::string::npos) << r.output;
  const auto json = mbmd::testing::eval_json(r.output);
  ASSERT_TRUE(json.is_object());
  EXPECT_EQ(json.at("num_images"), 3) << json.dump();
  EXPECT_EQ(json.at("num_masses"), 3) << json.dump();
  EXPECT_GT(json.at("num_detections").get<int>(), 0) << json.dump();
}

TEST_F(TorchvisionCheckpoint, TrainFineTunesFromIt) {
  const std::string work = path("run");
  const ProgramRun r = run_mbmd(
      "train" + kConfig + " --work-dir '" + work + "' --set train.load_from='" + checkpoint() +
      "' --set model.num_classes=1 --set data.dataset=coco --set data.ann_file='" + *ann_ +
      "' --set data.split=none --set data.workers=1 --set train.epochs=1"
      " --set train.batch_size=2 --set train.lr=0.00001 --set train.scale_lr=false"
      " --set train.warmup_iters=1 --set train.val_interval=0 --set train.log_interval=1"
      " --set model.rpn.train.pre_nms_top_n=200 --set model.rpn.train.post_nms_top_n=100"
      " --set model.roi.train.num_samples=64");
  ASSERT_EQ(r.status, 0) << r.output;
  // Every tensor of the file fitted: none kept fresh, none missing.
  EXPECT_NE(r.output.find("tv2.pth (torchvision)"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("kept fresh"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("not in the file"), std::string::npos) << r.output;

  // 3 images in batches of 2: one or two steps (as the short batch is kept or dropped), each
  // with a finite loss.
  std::ifstream log(work + "/log.jsonl");
  int steps = 0;
  for (std::string line; std::getline(log, line);) {
    const auto entry = nlohmann::json::parse(line);
    if (entry.at("type") != "train") continue;
    ++steps;
    EXPECT_TRUE(std::isfinite(entry.at("loss").get<double>())) << line;
  }
  EXPECT_GE(steps, 1);
  EXPECT_LE(steps, 2);

  // The run's checkpoint: the one-class head with background (2 rows, 2 x 4 box deltas), the
  // frozen stem exactly torchvision's, the class scores within the tiny learning rate's reach of
  // torchvision's (fresh ones, std 0.01 against torchvision's up to 0.03, would be far off).
  const auto ours = mbmd::io::load_state_dict(work + "/last.ckpt");
  const auto theirs = mbmd::io::load_state_dict(checkpoint());
  const auto cls = mbmd::io::find_tensor(ours, "roi_head.bbox_head.fc_cls.weight");
  const auto reg = mbmd::io::find_tensor(ours, "roi_head.bbox_head.fc_reg.weight");
  ASSERT_TRUE(cls.defined() && reg.defined());
  EXPECT_EQ(cls.sizes(), (at::IntArrayRef{2, 1024}));
  EXPECT_EQ(reg.sizes(), (at::IntArrayRef{8, 1024}));
  const auto stem = mbmd::io::find_tensor(ours, "backbone.conv1.weight");
  const auto tv_stem = mbmd::io::find_tensor(theirs, "backbone.body.conv1.weight");
  ASSERT_TRUE(stem.defined() && tv_stem.defined());
  EXPECT_TRUE(at::equal(stem, tv_stem));
  const auto tv_cls = mbmd::io::find_tensor(theirs, "roi_heads.box_predictor.cls_score.weight");
  ASSERT_TRUE(tv_cls.defined());
  EXPECT_LT((cls - tv_cls).abs().max().item<double>(), 1e-3);

  // The fine-tuned checkpoint predicts on its own (its config, one class, is in its meta).
  const std::string out = path("finetuned_dets.json");
  const ProgramRun p = run_mbmd("predict --threads 2 --checkpoint '" + work + "/last.ckpt' '" +
                                film(1) + "' --out '" + out + "'");
  ASSERT_EQ(p.status, 0) << p.output;
  expect_mass_detections(out, "syn1");
}

}  // namespace
