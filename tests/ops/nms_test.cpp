// NMS and batched NMS against torchvision 0.14 (fixtures from tools/make_ops_fixtures.py) and
// against a slow reference written here from the definition.
#include "mbmd/ops/nms.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <string>
#include <tuple>
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

std::vector<int64_t> to_vector(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

at::Tensor tensor_from(const json& values, at::ScalarType dtype) {
  const std::vector<double> v = values.get<std::vector<double>>();
  return at::tensor(v, at::kDouble).to(dtype);
}

// ---- slow reference, straight from the definition -------------------------------------------

// Kept indices of greedy NMS; boxes with different labels never suppress each other. Ranks are by
// decreasing score, equal scores by increasing index (the stable sort torchvision uses).
template <typename T>
std::vector<int64_t> reference_nms(const std::vector<T>& boxes, const std::vector<T>& scores,
                                   const std::vector<int64_t>& labels, double threshold) {
  const size_t n = scores.size();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return scores[a] > scores[b]; });
  auto iou = [&](int64_t a, int64_t b) {
    const T* p = &boxes[4 * a];
    const T* q = &boxes[4 * b];
    const T area_p = (p[2] - p[0]) * (p[3] - p[1]);
    const T area_q = (q[2] - q[0]) * (q[3] - q[1]);
    const T w = std::max<T>(0, std::min(p[2], q[2]) - std::max(p[0], q[0]));
    const T h = std::max<T>(0, std::min(p[3], q[3]) - std::max(p[1], q[1]));
    const T inter = w * h;
    return inter / (area_p + area_q - inter);
  };
  std::vector<int64_t> keep;
  for (int64_t i : order) {
    bool suppressed = false;
    for (int64_t k : keep) {
      if ((labels.empty() || labels[k] == labels[i]) && iou(k, i) > threshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) keep.push_back(i);
  }
  return keep;
}

struct RandomCase {
  std::vector<float> boxes;
  std::vector<float> scores;
  std::vector<int64_t> labels;
};

// Clustered boxes (so that suppression happens at every threshold) with few distinct scores (so
// that ties are common).
RandomCase random_case(std::mt19937& rng, int count, int clusters, int classes, int score_levels) {
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::vector<float> centres(2 * clusters);
  for (float& c : centres) c = unit(rng) * 100.0f;
  RandomCase rc;
  for (int i = 0; i < count; ++i) {
    const int k = static_cast<int>(unit(rng) * clusters) % clusters;
    const float cx = centres[2 * k] + (unit(rng) - 0.5f) * 12.0f;
    const float cy = centres[2 * k + 1] + (unit(rng) - 0.5f) * 12.0f;
    const float hw = 5.0f + unit(rng) * 10.0f;
    const float hh = 5.0f + unit(rng) * 10.0f;
    rc.boxes.insert(rc.boxes.end(), {cx - hw, cy - hh, cx + hw, cy + hh});
    rc.scores.push_back(static_cast<float>(static_cast<int>(unit(rng) * score_levels)) /
                        static_cast<float>(score_levels));
    rc.labels.push_back(static_cast<int64_t>(unit(rng) * classes) % classes);
  }
  return rc;
}

// ---- torchvision fixtures --------------------------------------------------------------------

TEST(Nms, MatchesTorchvisionFixtures) {
  const json fixture = load_fixture("nms.json");
  int checked = 0;
  for (const json& c : fixture["cases"]) {
    const at::ScalarType dtype = c["dtype"] == "float64" ? at::kDouble : at::kFloat;
    const at::Tensor boxes = tensor_from(c["boxes"], dtype).view({-1, 4});
    const at::Tensor scores = tensor_from(c["scores"], dtype);
    const std::vector<double> thresholds = c["thresholds"].get<std::vector<double>>();
    for (size_t t = 0; t < thresholds.size(); ++t) {
      const std::vector<int64_t> expected = c["keeps"][t].get<std::vector<int64_t>>();
      at::Tensor keep;
      if (c["kind"] == "nms") {
        keep = nms(boxes, scores, thresholds[t]);
      } else {
        const at::Tensor idxs = at::tensor(c["idxs"].get<std::vector<int64_t>>(), at::kLong);
        keep = batched_nms(boxes, scores, idxs, thresholds[t]);
      }
      EXPECT_EQ(keep.scalar_type(), at::kLong);
      EXPECT_EQ(to_vector(keep), expected)
          << c["name"].get<std::string>() << " at IoU threshold " << thresholds[t];
      ++checked;
    }
  }
  EXPECT_EQ(checked, 14);
}

// ---- against the slow reference ---------------------------------------------------------------

TEST(Nms, MatchesReferenceOnRandomBoxesWithTies) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 20; ++trial) {
    const RandomCase rc = random_case(rng, 10 + 15 * trial, 1 + trial % 6, 1, 4);
    const int64_t n = static_cast<int64_t>(rc.scores.size());
    const at::Tensor boxes = at::tensor(rc.boxes).view({n, 4});
    const at::Tensor scores = at::tensor(rc.scores);
    for (double threshold : {0.0, 0.3, 0.5, 0.7, 1.0}) {
      EXPECT_EQ(to_vector(nms(boxes, scores, threshold)),
                reference_nms(rc.boxes, rc.scores, {}, threshold))
          << "trial " << trial << ", threshold " << threshold;
    }
    // Double precision follows the same definition.
    const std::vector<double> boxes64(rc.boxes.begin(), rc.boxes.end());
    const std::vector<double> scores64(rc.scores.begin(), rc.scores.end());
    EXPECT_EQ(to_vector(nms(boxes.to(at::kDouble), scores.to(at::kDouble), 0.5)),
              reference_nms(boxes64, scores64, {}, 0.5));
  }
}

TEST(Nms, BatchedMatchesReferenceOnRandomBoxes) {
  std::mt19937 rng(99);
  for (int trial = 0; trial < 12; ++trial) {
    // Up to 991 boxes: torchvision's single-pass regime, whose order among equal scores is the
    // stable one.
    const RandomCase rc = random_case(rng, 20 + 81 * trial, 3 + trial, 1 + trial % 5, 5);
    const int64_t n = static_cast<int64_t>(rc.scores.size());
    const at::Tensor boxes = at::tensor(rc.boxes).view({n, 4});
    const at::Tensor scores = at::tensor(rc.scores);
    const at::Tensor labels = at::tensor(rc.labels);
    for (double threshold : {0.3, 0.5, 0.7}) {
      EXPECT_EQ(to_vector(batched_nms(boxes, scores, labels, threshold)),
                reference_nms(rc.boxes, rc.scores, rc.labels, threshold))
          << "trial " << trial << ", threshold " << threshold;
      // int32 ids give the same result as int64 ones.
      EXPECT_TRUE(batched_nms(boxes, scores, labels.to(at::kInt), threshold)
                      .equal(batched_nms(boxes, scores, labels, threshold)));
    }
  }
}

TEST(Nms, BatchedLargeKeepsTheReferenceSetInScoreOrder) {
  // Above 1000 boxes torchvision reorders equal scores with an unstable sort; the kept set is still
  // the per-class greedy one and the scores must not increase.
  std::mt19937 rng(5);
  const RandomCase rc = random_case(rng, 1500, 60, 7, 10);
  const int64_t n = static_cast<int64_t>(rc.scores.size());
  const at::Tensor boxes = at::tensor(rc.boxes).view({n, 4});
  const at::Tensor scores = at::tensor(rc.scores);
  const at::Tensor keep = batched_nms(boxes, scores, at::tensor(rc.labels), 0.5);
  std::vector<int64_t> got = to_vector(keep);
  for (size_t i = 1; i < got.size(); ++i) EXPECT_GE(rc.scores[got[i - 1]], rc.scores[got[i]]);
  std::vector<int64_t> expected = reference_nms(rc.boxes, rc.scores, rc.labels, 0.5);
  ASSERT_GT(expected.size(), 100u);
  ASSERT_LT(expected.size(), 1400u);
  std::sort(got.begin(), got.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(got, expected);
}

TEST(Nms, BatchedEqualsPerClassNms) {
  std::mt19937 rng(77);
  const RandomCase rc = random_case(rng, 300, 8, 4, 1000);
  const int64_t n = static_cast<int64_t>(rc.scores.size());
  const at::Tensor boxes = at::tensor(rc.boxes).view({n, 4});
  const at::Tensor scores = at::tensor(rc.scores) + at::arange(n, at::kFloat) * 1e-6f;
  const at::Tensor labels = at::tensor(rc.labels);
  std::vector<int64_t> merged;
  for (int64_t cls = 0; cls < 4; ++cls) {
    const at::Tensor members = at::nonzero(labels == cls).view(-1);
    const at::Tensor kept = members.index_select(
        0, nms(boxes.index_select(0, members), scores.index_select(0, members), 0.5));
    const std::vector<int64_t> v = to_vector(kept);
    merged.insert(merged.end(), v.begin(), v.end());
  }
  const float* s = scores.data_ptr<float>();
  std::sort(merged.begin(), merged.end(),
            [&](int64_t a, int64_t b) { return s[a] > s[b] || (s[a] == s[b] && a < b); });
  EXPECT_EQ(to_vector(batched_nms(boxes, scores, labels, 0.5)), merged);
}

// ---- edge cases ---------------------------------------------------------------------------------

TEST(Nms, SuppressesOnlyAboveTheThreshold) {
  // IoU of these two boxes is exactly 0.5 (area 50 inside areas 100 and 50).
  const at::Tensor boxes =
      at::tensor({0.0f, 0.0f, 10.0f, 10.0f, 0.0f, 0.0f, 10.0f, 5.0f}).view({2, 4});
  const at::Tensor scores = at::tensor({0.9f, 0.8f});
  EXPECT_EQ(to_vector(nms(boxes, scores, 0.5)), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(to_vector(nms(boxes, scores, 0.49)), (std::vector<int64_t>{0}));
}

TEST(Nms, EqualScoresKeepTheLowerIndex) {
  // Identical boxes with identical scores: the first one wins, whatever the count.
  for (int64_t n : {2, 17, 40}) {
    const at::Tensor boxes = at::tensor({1.0f, 2.0f, 11.0f, 12.0f}).repeat({n, 1});
    const at::Tensor scores = at::full({n}, 0.5f);
    EXPECT_EQ(to_vector(nms(boxes, scores, 0.5)), (std::vector<int64_t>{0})) << n << " boxes";
  }
}

TEST(Nms, ZeroAreaBoxesAreNeverSuppressed) {
  const at::Tensor boxes =
      at::tensor({5.0f, 5.0f, 5.0f, 5.0f, 5.0f, 5.0f, 5.0f, 5.0f, 0.0f, 0.0f, 10.0f, 10.0f})
          .view({3, 4});
  const at::Tensor scores = at::tensor({0.9f, 0.8f, 0.7f});
  EXPECT_EQ(to_vector(nms(boxes, scores, 0.1)), (std::vector<int64_t>{0, 1, 2}));
}

TEST(Nms, EmptyInputsGiveEmptyResults) {
  const at::Tensor boxes = at::zeros({0, 4});
  const at::Tensor scores = at::zeros({0});
  const at::Tensor keep = nms(boxes, scores, 0.5);
  EXPECT_EQ(keep.numel(), 0);
  EXPECT_EQ(keep.scalar_type(), at::kLong);
  const at::Tensor batched = batched_nms(boxes, scores, at::zeros({0}, at::kLong), 0.5);
  EXPECT_EQ(batched.numel(), 0);
  EXPECT_EQ(batched.scalar_type(), at::kLong);
}

TEST(Nms, AcceptsNonContiguousInputs) {
  std::mt19937 rng(3);
  const RandomCase rc = random_case(rng, 50, 3, 2, 5);
  const at::Tensor boxes = at::tensor(rc.boxes).view({50, 4});
  const at::Tensor scores = at::tensor(rc.scores);
  const at::Tensor boxes_t = boxes.t().contiguous().t();  // same values, column-major
  const at::Tensor scores_s = at::stack({scores, scores}, 1).select(1, 1);
  ASSERT_FALSE(boxes_t.is_contiguous());
  ASSERT_FALSE(scores_s.is_contiguous());
  EXPECT_TRUE(nms(boxes_t, scores_s, 0.5).equal(nms(boxes, scores, 0.5)));
}

TEST(Nms, RejectsBadArgumentsWithClearMessages) {
  const at::Tensor boxes = at::rand({5, 4});
  const at::Tensor scores = at::rand({5});
  auto message_of = [](auto&& call) -> std::string {
    try {
      call();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_NE(message_of([&] {
              nms(at::rand({5, 5}), scores, 0.5);
            }).find("boxes must have shape [N, 4]"),
            std::string::npos);
  EXPECT_NE(message_of([&] { nms(at::rand({4}), scores, 0.5); }).find("boxes must have shape"),
            std::string::npos);
  EXPECT_NE(message_of([&] { nms(boxes, at::rand({4}), 0.5); }).find("scores must have shape [N]"),
            std::string::npos);
  EXPECT_NE(message_of([&] { nms(boxes, scores.to(at::kDouble), 0.5); }).find("same dtype"),
            std::string::npos);
  EXPECT_NE(message_of([&] {
              nms(boxes.to(at::kInt), scores.to(at::kInt), 0.5);
            }).find("float32 or float64"),
            std::string::npos);
  EXPECT_NE(message_of([&] {
              batched_nms(boxes, scores, at::zeros({5}), 0.5);
            }).find("idxs must be an integer tensor"),
            std::string::npos);
  EXPECT_NE(message_of([&] {
              batched_nms(boxes, scores, at::zeros({4}, at::kLong), 0.5);
            }).find("idxs must have shape [N]"),
            std::string::npos);
}

TEST(Nms, TensorsOnADeviceWithoutAKernelAreRefused) {
  // Meta tensors stand in for CUDA tensors reaching a CPU-only build: the dispatch names the
  // device.
  const at::Tensor boxes = at::empty({3, 4}, at::TensorOptions().device(at::kMeta));
  const at::Tensor scores = at::empty({3}, at::TensorOptions().device(at::kMeta));
  try {
    nms(boxes, scores, 0.5);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no kernel for tensors on meta"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(nms(boxes, at::rand({3}), 0.5), Error);  // mixed devices
}

TEST(Nms, CudaMatchesCpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device or CUDA LibTorch";
  std::mt19937 rng(21);
  for (int trial = 0; trial < 6; ++trial) {
    const RandomCase rc = random_case(rng, 50 + 400 * trial, 4 + 10 * trial, 3, 6);
    const int64_t n = static_cast<int64_t>(rc.scores.size());
    const at::Tensor boxes = at::tensor(rc.boxes).view({n, 4});
    const at::Tensor scores = at::tensor(rc.scores);
    const at::Tensor labels = at::tensor(rc.labels);
    for (double threshold : {0.3, 0.5, 0.7}) {
      EXPECT_TRUE(
          nms(boxes.cuda(), scores.cuda(), threshold).cpu().equal(nms(boxes, scores, threshold)));
      // Kept sets agree; beyond 20000 coordinates both follow torchvision's own ordering rules.
      const at::Tensor gpu =
          batched_nms(boxes.cuda(), scores.cuda(), labels.cuda(), threshold).cpu();
      const at::Tensor cpu = batched_nms(boxes, scores, labels, threshold);
      EXPECT_TRUE(std::get<0>(gpu.sort()).equal(std::get<0>(cpu.sort())));
    }
  }
}

}  // namespace
}  // namespace mbmd::ops
