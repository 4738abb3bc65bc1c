// RoIAlign against torchvision 0.14 (fixtures from tools/make_ops_fixtures.py), against a slow
// reference written here from the definition, and against finite differences.
#include "mbmd/ops/roi_align.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <torch/autograd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "mbmd/core/error.h"
#include "mbmd_paths.h"

namespace mbmd::ops {
namespace {

using nlohmann::json;

json load_fixture(const std::string& name) {
  const std::string path = std::string(MBMD_SOURCE_DIR) + "/tests/fixtures/ops/" + name;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open fixture " + path);
  return json::parse(in);
}

at::Tensor tensor_from(const json& values) {
  return at::tensor(values.get<std::vector<double>>(), at::kDouble).to(at::kFloat);
}

// Largest violation of |a - b| <= atol + rtol * |b|, as a multiple of the allowed error (<= 1 ok).
double tolerance_ratio(const at::Tensor& a, const at::Tensor& b, double atol, double rtol) {
  const at::Tensor a64 = a.to(at::kDouble);
  const at::Tensor b64 = b.to(at::kDouble);
  return ((a64 - b64).abs() / (atol + rtol * b64.abs())).max().item<double>();
}

// ---- slow reference, straight from the definition -------------------------------------------

// Bilinear value at (y, x) with torchvision's border rules: points more than one pixel outside
// contribute 0; points within one pixel are clamped onto the border.
double bilinear(const double* plane, int64_t height, int64_t width, double y, double x) {
  if (y < -1.0 || y > height || x < -1.0 || x > width) return 0.0;
  y = std::min(std::max(y, 0.0), static_cast<double>(height - 1));
  x = std::min(std::max(x, 0.0), static_cast<double>(width - 1));
  const int64_t y0 = static_cast<int64_t>(std::floor(y));
  const int64_t x0 = static_cast<int64_t>(std::floor(x));
  const int64_t y1 = std::min(y0 + 1, height - 1);
  const int64_t x1 = std::min(x0 + 1, width - 1);
  const double ly = y - y0;
  const double lx = x - x0;
  return (1 - ly) * (1 - lx) * plane[y0 * width + x0] + (1 - ly) * lx * plane[y0 * width + x1] +
         ly * (1 - lx) * plane[y1 * width + x0] + ly * lx * plane[y1 * width + x1];
}

// One output element after another, every bin's geometry recomputed from the RoI: obviously
// correct and slow. Works in double whatever the inputs' dtype.
at::Tensor reference_roi_align(const at::Tensor& input_in, const at::Tensor& rois_in, int64_t ph,
                               int64_t pw, double scale, int64_t ratio, bool aligned) {
  const at::Tensor input = input_in.to(at::kDouble).contiguous();
  const at::Tensor rois = rois_in.to(at::kDouble).contiguous();
  const int64_t channels = input.size(1), height = input.size(2), width = input.size(3);
  const int64_t k = rois.size(0);
  at::Tensor output = at::zeros({k, channels, ph, pw}, at::kDouble);
  const double* in = input.data_ptr<double>();
  const double* r = rois.data_ptr<double>();
  double* out = output.data_ptr<double>();
  for (int64_t n = 0; n < k; ++n) {
    const double* roi = r + 5 * n;
    const double shift = aligned ? 0.5 : 0.0;
    const double x1 = roi[1] * scale - shift, y1 = roi[2] * scale - shift;
    double roi_w = roi[3] * scale - shift - x1, roi_h = roi[4] * scale - shift - y1;
    if (!aligned) {
      roi_w = std::max(roi_w, 1.0);
      roi_h = std::max(roi_h, 1.0);
    }
    const int64_t gh = ratio > 0 ? ratio : std::max<int64_t>(0, std::ceil(roi_h / ph));
    const int64_t gw = ratio > 0 ? ratio : std::max<int64_t>(0, std::ceil(roi_w / pw));
    for (int64_t c = 0; c < channels; ++c) {
      const double* plane = in + (static_cast<int64_t>(roi[0]) * channels + c) * height * width;
      for (int64_t i = 0; i < ph; ++i) {
        for (int64_t j = 0; j < pw; ++j) {
          double sum = 0.0;
          for (int64_t sy = 0; sy < gh; ++sy) {
            for (int64_t sx = 0; sx < gw; ++sx) {
              const double y = y1 + (i + (sy + 0.5) / gh) * roi_h / ph;
              const double x = x1 + (j + (sx + 0.5) / gw) * roi_w / pw;
              sum += bilinear(plane, height, width, y, x);
            }
          }
          out[((n * channels + c) * ph + i) * pw + j] = sum / std::max<int64_t>(gh * gw, 1);
        }
      }
    }
  }
  return output;
}

struct Problem {
  at::Tensor input;
  at::Tensor rois;
};

// Random feature map and RoIs of every kind: inside, partly or wholly outside, tiny, large,
// malformed (x2 < x1).
Problem random_problem(std::mt19937& rng, int64_t batch, int64_t channels, int64_t height,
                       int64_t width, int64_t count, double image_scale, at::ScalarType dtype) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> values(static_cast<size_t>(batch * channels * height * width));
  for (double& v : values) v = normal(rng);
  std::vector<double> rois;
  const double image_w = width * image_scale, image_h = height * image_scale;
  for (int64_t i = 0; i < count; ++i) {
    const double x = (unit(rng) * 1.4 - 0.2) * image_w;
    const double y = (unit(rng) * 1.4 - 0.2) * image_h;
    const int kind = static_cast<int>(i % 4);
    const double size = kind == 0 ? 0.3 : kind == 1 ? 0.3 * image_w : 1.2 * image_w;
    double w = unit(rng) * size, h = unit(rng) * size;
    if (i % 7 == 6) w = -0.5 * w;  // malformed
    rois.insert(rois.end(), {static_cast<double>(i % batch), x, y, x + w, y + h});
  }
  Problem p;
  p.input = at::tensor(values, at::kDouble).view({batch, channels, height, width}).to(dtype);
  p.rois = at::tensor(rois, at::kDouble).view({count, 5}).to(dtype);
  return p;
}

// ---- torchvision fixtures --------------------------------------------------------------------

TEST(RoIAlign, MatchesTorchvisionForwardAndInputGradient) {
  const json fixture = load_fixture("roi_align.json");
  const std::vector<int64_t> shape = fixture["input_shape"].get<std::vector<int64_t>>();
  const at::Tensor input = tensor_from(fixture["input"]).view(shape);
  const at::Tensor rois = tensor_from(fixture["rois"]).view({-1, 5});
  const int64_t ph = fixture["pooled_h"], pw = fixture["pooled_w"];
  const at::Tensor weights =
      tensor_from(fixture["grad_weights"]).view({rois.size(0), shape[1], ph, pw});
  int checked = 0;
  for (const json& c : fixture["cases"]) {
    const double scale = c["spatial_scale"];
    const bool aligned = c["aligned"];
    const int64_t ratio = c["sampling_ratio"];
    const std::string label = "scale " + std::to_string(scale) + (aligned ? " aligned" : "") +
                              " sampling_ratio " + std::to_string(ratio);
    const at::Tensor x = input.clone().set_requires_grad(true);
    const at::Tensor out = roi_align(x, rois, ph, pw, scale, ratio, aligned);
    const at::Tensor expected = tensor_from(c["output"]).view(out.sizes());
    EXPECT_LE(tolerance_ratio(out.detach(), expected, 1e-5, 1e-5), 1.0) << label;
    (out * weights).sum().backward();
    const at::Tensor expected_grad = tensor_from(c["grad_input"]).view(input.sizes());
    EXPECT_LE(tolerance_ratio(x.grad(), expected_grad, 1e-5, 1e-5), 1.0) << label;
    ++checked;
  }
  EXPECT_EQ(checked, 8);
}

// ---- against the slow reference ---------------------------------------------------------------

TEST(RoIAlign, ForwardMatchesReferenceOnRandomInputs) {
  std::mt19937 rng(2024);
  int trial = 0;
  for (const bool aligned : {false, true}) {
    for (const int64_t ratio : {0, 1, 2, 3}) {
      for (const double scale : {1.0, 0.5, 0.125}) {
        const int64_t ph = 1 + trial % 7, pw = 1 + (trial * 3) % 5;
        const Problem p =
            random_problem(rng, 2, 3, 9 + trial % 5, 11, 24, 1.0 / scale, at::kDouble);
        const at::Tensor expected =
            reference_roi_align(p.input, p.rois, ph, pw, scale, ratio, aligned);
        const at::Tensor out64 = roi_align(p.input, p.rois, ph, pw, scale, ratio, aligned);
        EXPECT_LE(tolerance_ratio(out64, expected, 1e-12, 1e-10), 1.0) << "trial " << trial;
        const at::Tensor out32 =
            roi_align(p.input.to(at::kFloat), p.rois.to(at::kFloat), ph, pw, scale, ratio, aligned);
        EXPECT_LE(tolerance_ratio(out32, expected, 1e-4, 1e-4), 1.0) << "trial " << trial;
        EXPECT_GT(expected.abs().sum().item<double>(), 0.0);
        ++trial;
      }
    }
  }
}

TEST(RoIAlign, BackwardIsTheAdjointOfTheReference) {
  // The op is linear in its input, so <roi_align(x), w> = <x, grad> for every x; checking the
  // gradient against the reference on the basis vectors is checking it entry by entry.
  std::mt19937 rng(7);
  for (const bool aligned : {false, true}) {
    for (const int64_t ratio : {0, 2}) {
      const Problem p = random_problem(rng, 2, 2, 6, 7, 10, 4.0, at::kDouble);
      const int64_t ph = 3, pw = 2;
      const at::Tensor x = p.input.clone().set_requires_grad(true);
      const at::Tensor w = at::randn({10, 2, ph, pw}, at::kDouble);
      (roi_align(x, p.rois, ph, pw, 0.25, ratio, aligned) * w).sum().backward();
      const at::Tensor grad = x.grad().reshape(-1);
      at::Tensor expected = at::zeros_like(grad);
      for (int64_t e = 0; e < grad.numel(); ++e) {
        const at::Tensor basis = at::zeros({grad.numel()}, at::kDouble);
        basis[e] = 1.0;
        expected[e] =
            (reference_roi_align(basis.view(x.sizes()), p.rois, ph, pw, 0.25, ratio, aligned) * w)
                .sum();
      }
      EXPECT_LE(tolerance_ratio(grad, expected, 1e-12, 1e-10), 1.0)
          << (aligned ? "aligned" : "not aligned") << ", sampling_ratio " << ratio;
      EXPECT_GT(expected.abs().sum().item<double>(), 0.0);
    }
  }
}

TEST(RoIAlign, GradientMatchesFiniteDifferences) {
  std::mt19937 rng(11);
  const Problem p = random_problem(rng, 1, 2, 5, 6, 6, 2.0, at::kDouble);
  for (const bool aligned : {false, true}) {
    const at::Tensor w = at::randn({6, 2, 2, 3}, at::kDouble);
    auto loss = [&](const at::Tensor& x) {
      return (roi_align(x, p.rois, 2, 3, 0.5, 0, aligned) * w).sum();
    };
    const at::Tensor x = p.input.clone().set_requires_grad(true);
    loss(x).backward();
    const at::Tensor analytic = x.grad().reshape(-1);
    const at::Tensor flat = p.input.reshape(-1);
    const double eps = 1e-6;
    double worst = 0.0;
    for (int64_t e = 0; e < flat.numel(); ++e) {
      const at::Tensor plus = flat.clone(), minus = flat.clone();
      plus[e] += eps;
      minus[e] -= eps;
      const double numeric = (loss(plus.view(p.input.sizes())).item<double>() -
                              loss(minus.view(p.input.sizes())).item<double>()) /
                             (2 * eps);
      worst = std::max(worst, std::abs(numeric - analytic[e].item<double>()) /
                                  (1e-6 + 1e-5 * std::abs(numeric)));
    }
    EXPECT_LE(worst, 1.0) << (aligned ? "aligned" : "not aligned");
    EXPECT_GT(analytic.abs().sum().item<double>(), 0.0);
  }
}

TEST(RoIAlign, ResultsDoNotDependOnTheThreadCount) {
  std::mt19937 rng(5);
  const Problem p = random_problem(rng, 2, 4, 12, 10, 40, 8.0, at::kFloat);
  const at::Tensor w = at::randn({40, 4, 7, 7});
  auto run = [&] {
    const at::Tensor x = p.input.clone().set_requires_grad(true);
    const at::Tensor out = roi_align(x, p.rois, 7, 7, 0.125, 0, true);
    (out * w).sum().backward();
    return std::make_pair(out.detach(), x.grad());
  };
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const auto serial = run();
  at::set_num_threads(std::max(2, threads));
  const auto parallel = run();
  at::set_num_threads(threads);
  EXPECT_TRUE(serial.first.equal(parallel.first));
  EXPECT_TRUE(serial.second.equal(parallel.second));
}

// ---- edge cases ---------------------------------------------------------------------------------

TEST(RoIAlign, ConstantMapPoolsToTheConstantInsideTheImage) {
  const at::Tensor input = at::full({1, 1, 8, 8}, 3.0f);
  const at::Tensor rois = at::tensor({0.0f, 1.0f, 1.5f, 6.0f, 7.0f}).view({1, 5});
  for (const bool aligned : {false, true}) {
    const at::Tensor out = roi_align(input, rois, 2, 2, 1.0, 0, aligned);
    EXPECT_TRUE(at::allclose(out, at::full({1, 1, 2, 2}, 3.0f))) << out;
  }
}

TEST(RoIAlign, MalformedAlignedBoxPoolsToZero) {
  // x2 < x1 with y2 > y1 and adaptive sampling: no samples, zeros (torchvision 0.14 throws here).
  const at::Tensor input = at::randn({1, 2, 13, 17});
  const at::Tensor rois = at::tensor({0.0f, 30.0f, 2.0f, 5.0f, 12.0f}).view({1, 5});
  EXPECT_TRUE(roi_align(input, rois, 3, 4, 1.0, 0, true).eq(0).all().item<bool>());
}

TEST(RoIAlign, WorksInInferenceMode) {
  std::mt19937 rng(17);
  const Problem p = random_problem(rng, 2, 3, 8, 9, 12, 4.0, at::kFloat);
  const at::Tensor expected = roi_align(p.input, p.rois, 7, 7, 0.25, 0, true);
  c10::InferenceMode guard;
  const at::Tensor out = roi_align(p.input, p.rois, 7, 7, 0.25, 0, true);
  EXPECT_FALSE(out.requires_grad());
  EXPECT_TRUE(out.equal(expected));
}

TEST(RoIAlign, NoRoisGiveAnEmptyOutputAndAZeroGradient) {
  const at::Tensor x = at::randn({2, 3, 5, 5}).set_requires_grad(true);
  const at::Tensor out = roi_align(x, at::zeros({0, 5}), 7, 7, 0.25, 0, true);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{0, 3, 7, 7}));
  out.sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_TRUE(x.grad().eq(0).all().item<bool>());
}

TEST(RoIAlign, RejectsBadArgumentsWithClearMessages) {
  const at::Tensor input = at::randn({2, 3, 5, 5});
  const at::Tensor rois = at::tensor({0.0f, 0.0f, 0.0f, 4.0f, 4.0f}).view({1, 5});
  auto message_of = [](auto&& call) -> std::string {
    try {
      call();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  auto expect_message = [&](const std::string& message, const std::string& part) {
    EXPECT_NE(message.find(part), std::string::npos) << "got: " << message;
  };
  expect_message(message_of([&] {
                   roi_align(input, at::zeros({3, 4}), 2, 2, 1.0, 0, true);
                 }),
                 "rois must have shape [K, 5]");
  expect_message(message_of([&] { roi_align(input, at::zeros({5}), 2, 2, 1.0, 0, true); }),
                 "rois must have shape [K, 5]");
  expect_message(message_of([&] { roi_align(input[0], rois, 2, 2, 1.0, 0, true); }),
                 "input must have shape [N, C, H, W], got a 3-D tensor");
  expect_message(message_of([&] { roi_align(input, rois.to(at::kDouble), 2, 2, 1.0, 0, true); }),
                 "input and rois must have the same dtype");
  expect_message(
      message_of([&] { roi_align(input.to(at::kInt), rois.to(at::kInt), 2, 2, 1.0, 0, true); }),
      "floating point");
  expect_message(message_of([&] { roi_align(input, rois, 0, 2, 1.0, 0, true); }),
                 "pooled size must be positive");
  expect_message(message_of([&] { roi_align(input, rois, 2, 2, 0.0, 0, true); }),
                 "spatial_scale must be a positive number");
  const at::Tensor bad_batch = at::tensor({2.0f, 0.0f, 0.0f, 4.0f, 4.0f}).view({1, 5});
  expect_message(message_of([&] { roi_align(input, bad_batch, 2, 2, 1.0, 0, true); }),
                 "batch indices must lie in [0, 1]");
  const at::Tensor nan_batch = at::tensor({NAN, 0.0f, 0.0f, 4.0f, 4.0f}).view({1, 5});
  expect_message(message_of([&] { roi_align(input, nan_batch, 2, 2, 1.0, 0, true); }),
                 "batch indices");
}

TEST(RoIAlign, TensorsOnADeviceWithoutAKernelAreRefused) {
  // Meta tensors stand in for CUDA tensors reaching a CPU-only build: the dispatch names the
  // device.
  const at::TensorOptions meta = at::TensorOptions().device(at::kMeta);
  try {
    roi_align(at::empty({1, 2, 5, 5}, meta), at::empty({0, 5}, meta), 2, 2, 1.0, 0, true);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no kernel for tensors on meta"), std::string::npos)
        << e.what();
  }
  try {
    roi_align(at::empty({1, 2, 5, 5}, meta), at::zeros({1, 5}), 2, 2, 1.0, 0, true);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("same device"), std::string::npos) << e.what();
  }
}

TEST(RoIAlign, CudaMatchesCpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device or CUDA LibTorch";
  std::mt19937 rng(31);
  for (const at::ScalarType dtype : {at::kFloat, at::kDouble}) {
    for (const bool aligned : {false, true}) {
      for (const int64_t ratio : {0, 2}) {
        const Problem p = random_problem(rng, 2, 5, 20, 24, 64, 8.0, dtype);
        const at::Tensor w = at::randn({64, 5, 7, 7}, dtype);
        auto run = [&](const at::Device device) {
          const at::Tensor x = p.input.detach().to(device).requires_grad_(true);
          const at::Tensor out = roi_align(x, p.rois.to(device), 7, 7, 0.125, ratio, aligned);
          (out * w.to(device)).sum().backward();
          return std::make_pair(out.detach().cpu(), x.grad().cpu());
        };
        const auto cpu = run(at::kCPU);
        const auto gpu = run(at::Device(at::kCUDA, 0));
        EXPECT_LE(tolerance_ratio(gpu.first, cpu.first, 1e-5, 1e-5), 1.0);
        EXPECT_LE(tolerance_ratio(gpu.second, cpu.second, 1e-5, 1e-5), 1.0);
      }
    }
  }
}

}  // namespace
}  // namespace mbmd::ops
