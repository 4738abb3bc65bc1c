// Same weights, same input: the torchvision-compat config against torchvision 0.14's
// fasterrcnn_resnet50_fpn. tools/make_torchvision_reference.py writes the weights and torchvision's
// outputs with Debian's python3-torchvision at set-up (MBMD_PYTHON names another interpreter, e.g.
// the one beside a CUDA LibTorch). On a CUDA build with a GPU the same checks run on CUDA tensors.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "mbmd/core/config.h"
#include "mbmd/io/checkpoint.h"
#include "mbmd/model/detector.h"
#include "mbmd/model/weights.h"
#include "mbmd_paths.h"
#include "python_interpreter.h"

namespace mbmd::model {
namespace {

namespace fs = std::filesystem;

class TorchvisionParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ =
        new fs::path(fs::temp_directory_path() / ("mbmd_tv_parity_" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }

  // The reference is made on first use, so that a CUDA test on a machine without CUDA skips
  // without running the generator (ctest runs each test in a process of its own).
  static void generate_reference() {
    if (generator_status_ != -1) return;
    const std::string command = mbmd::testing::python_interpreter() + " " +
                                std::string(MBMD_SOURCE_DIR) +
                                "/tools/make_torchvision_reference.py " + dir_->string() + " > " +
                                (*dir_ / "generator.log").string() + " 2>&1";
    generator_status_ = std::system(command.c_str());
  }

  void SetUp() override {
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    if (test.rfind("Cuda", 0) == 0 && !at::hasCUDA())
      GTEST_SKIP() << "no CUDA device or CUDA LibTorch";
    generate_reference();
    ASSERT_EQ(generator_status_, 0)
        << "tools/make_torchvision_reference.py failed (needs Debian's python3-torchvision; "
           "scripts/install-deps.sh installs it); see its log in "
        << dir_->string();
    reference_ = io::load_state_dict((*dir_ / "reference.pth").string());
    Json config = load_config("torchvision_fasterrcnn_r50_fpn");
    // The generator's model: 3 classes with background, min_size 320, max_size 512.
    apply_overrides(config, {"model.num_classes=2", "input.scale=[512,320]"});
    detector_ = FasterRCNN(detector_options_from_config(config));
    report_ =
        load_weights(*detector_, io::load_state_dict((*dir_ / "model.pth").string()), "model.pth");
    detector_->eval();
  }

  at::Tensor ref(const std::string& name) const {
    auto t = io::find_tensor(reference_, name);
    EXPECT_TRUE(t.defined()) << name;
    return t;
  }

  void expect_features_match(const std::vector<at::Tensor>& feats) const {
    ASSERT_EQ(feats.size(), 5u);
    for (size_t l = 0; l < 5; ++l) {
      const auto expected = ref("feature" + std::to_string(l));
      const auto ours = feats[l].cpu();
      ASSERT_EQ(ours.sizes(), expected.sizes()) << "level " << l;
      const double scale = expected.abs().max().item<double>();
      const double diff = (ours - expected).abs().max().item<double>();
      EXPECT_LT(diff / scale, 1e-4)
          << "level " << l << ": max difference " << diff << " of " << scale;
      std::printf("level %zu (%s): max |ours - torchvision| / max |torchvision| = %.2e\n", l,
                  feats[l].device().str().c_str(), diff / scale);
    }
  }

  void expect_detections_match(const Detections& ours) const {
    const auto boxes = ref("boxes"), scores = ref("scores"), labels = ref("labels");
    const int64_t n = boxes.size(0);
    ASSERT_GT(n, 10);
    EXPECT_EQ(ours.boxes.size(0), n);
    // Scores sit within 1e-3; a detection whose score is that close to the 100th one may fall on
    // either side of the cut, so only those may go unmatched.
    const double cut = scores[n - 1].item<double>();
    int matched = 0, unmatched_near_cut = 0;
    double worst_box = 0, worst_score = 0;
    for (int64_t i = 0; i < n; ++i) {
      const auto box_diff = (ours.boxes - boxes[i]).abs().amax(1);
      const auto same = box_diff.le(0.5)
                            .logical_and((ours.scores - scores[i]).abs().le(1e-3))
                            .logical_and(ours.labels.eq(labels[i] - 1));
      if (same.any().item<bool>()) {
        ++matched;
        const auto j = at::argmin(box_diff + (ours.scores - scores[i]).abs() * 1e3).item<int64_t>();
        worst_box = std::max(worst_box, box_diff[j].item<double>());
        worst_score = std::max(worst_score, (ours.scores[j] - scores[i]).abs().item<double>());
      } else if (scores[i].item<double>() - cut < 1e-3) {
        ++unmatched_near_cut;
      } else {
        ADD_FAILURE() << "torchvision detection " << i << " (score " << scores[i].item<double>()
                      << ", box " << boxes[i] << ") has no counterpart";
      }
    }
    EXPECT_GE(matched, n - 3) << unmatched_near_cut << " unmatched near the cut";
    std::printf("%d of %lld torchvision detections matched; worst box %.2e px, worst score %.2e\n",
                matched, static_cast<long long>(n), worst_box, worst_score);
  }

  static fs::path* dir_;
  static int generator_status_;
  io::StateDict reference_;
  FasterRCNN detector_{nullptr};
  LoadReport report_;
};

fs::path* TorchvisionParity::dir_ = nullptr;
int TorchvisionParity::generator_status_ = -1;

TEST_F(TorchvisionParity, StateDictLoadsWithEveryKeyMatched) {
  EXPECT_EQ(report_.format, "torchvision");
  EXPECT_TRUE(report_.missing.empty()) << "first missing: " << report_.missing.front();
  EXPECT_TRUE(report_.unexpected.empty()) << "first unexpected: " << report_.unexpected.front();
  // Every parameter and buffer, BatchNorm's num_batches_tracked included (torchvision saves them).
  EXPECT_EQ(report_.loaded.size(), model_state_dict(*detector_).size());
}

TEST_F(TorchvisionParity, TransformMatches) {
  at::NoGradGuard no_grad;
  const auto prepared = prepare_image(ref("image") * 255.0, detector_->options().input);
  const auto batch = collate({prepared}, 32);
  const auto expected = ref("input");
  ASSERT_EQ(batch.images.sizes(), expected.sizes());
  EXPECT_EQ(prepared.meta.height, ref("input_size")[0].item<int64_t>());
  EXPECT_EQ(prepared.meta.width, ref("input_size")[1].item<int64_t>());
  EXPECT_LT((batch.images - expected).abs().max().item<double>(), 1e-4);
}

TEST_F(TorchvisionParity, FeaturesMatchToOneInTenThousand) {
  at::NoGradGuard no_grad;
  expect_features_match(detector_->features(ref("input")));
}

TEST_F(TorchvisionParity, DetectionsMatchTorchvision) {
  at::NoGradGuard no_grad;
  const auto batch = collate({prepare_image(ref("image") * 255.0, detector_->options().input)}, 32);
  expect_detections_match(detector_->forward_test(batch)[0]);
}

// The same network on the GPU against the same CPU reference: our CUDA kernels (RoIAlign, NMS)
// and every device placement in the model.
TEST_F(TorchvisionParity, CudaFeaturesAndDetectionsMatchTorchvision) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device or CUDA LibTorch";
  // TF32 convolutions, PyTorch's default on Ampere and newer GPUs, keep 10 mantissa bits: the
  // reference is exact float32 arithmetic, so compare with them off.
  const bool tf32 = at::globalContext().allowTF32CuDNN();
  at::globalContext().setAllowTF32CuDNN(false);
  at::NoGradGuard no_grad;
  const at::Device gpu(at::kCUDA, 0);
  detector_->to(gpu);
  expect_features_match(detector_->features(ref("input").to(gpu)));
  const auto image = (ref("image") * 255.0).to(gpu);
  const auto batch = collate({prepare_image(image, detector_->options().input)}, 32);
  ASSERT_TRUE(batch.images.is_cuda());
  const auto ours = detector_->forward_test(batch)[0];
  EXPECT_TRUE(ours.boxes.is_cuda());
  Detections on_cpu = ours;
  on_cpu.boxes = ours.boxes.cpu();
  on_cpu.scores = ours.scores.cpu();
  on_cpu.labels = ours.labels.cpu();
  expect_detections_match(on_cpu);
  at::globalContext().setAllowTF32CuDNN(tf32);
}

}  // namespace
}  // namespace mbmd::model
