// Copy-paste augmentation on hand-made images: a mass keeps its size in original pixels, lands
// exactly on the box it is given, goes only onto tissue and away from other masses, comes only
// from tissue, and is never pasted into its own film.
#include "mbmd/pipeline/copy_paste.h"

#include <gtest/gtest.h>

namespace mbmd::engine {
namespace {

model::ImageMeta meta_of(int64_t h, int64_t w, double scale) {
  model::ImageMeta m;
  m.original_height = static_cast<int64_t>(static_cast<double>(h) / scale);
  m.original_width = static_cast<int64_t>(static_cast<double>(w) / scale);
  m.height = h;
  m.width = w;
  m.scale_x = m.scale_y = scale;
  return m;
}

data::Sample sample_with_box(float x0, float y0, float x1, float y1, int64_t label) {
  data::Sample s;
  s.boxes = at::tensor({x0, y0, x1, y1}, at::kFloat).view({1, 4});
  s.labels = at::full({1}, label, at::kLong);
  return s;
}

class PasteMassesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Sample 0 is the target: 100 x 120 pixels of tissue (grey 100) with a mass at its top left.
    // Sample 1 is a film seen at half its size, with a bright 20 x 16 original-pixel mass.
    samples_ = {sample_with_box(0, 0, 30, 30, 0), sample_with_box(40, 20, 60, 36, 1)};
    source_ = at::full({50, 60}, 30.0);
    source_.slice(0, 10, 18).slice(1, 20, 30).fill_(250);
    target_ = {at::full({100, 120}, 100.0), meta_of(100, 120, 1.0)};
    load_ = [this](size_t) { return GreyView{source_, meta_of(50, 60, 0.5)}; };
  }

  PastedMasses paste(uint64_t seed, int64_t max_masses = 1) {
    PasteRequest request;
    request.seed = seed;
    request.max_masses = max_masses;
    return paste_masses(target_, samples_[0].boxes, samples_, mass_bank(samples_), load_, request);
  }

  std::vector<data::Sample> samples_;
  at::Tensor source_;
  GreyView target_;
  std::function<GreyView(size_t)> load_;
};

TEST_F(PasteMassesTest, MassKeepsItsSizeAndLandsOnItsBox) {
  int pasted = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const auto out = paste(seed);
    ASSERT_EQ(out.boxes.size(0), out.labels.size(0));
    if (out.boxes.size(0) == 0) continue;  // the draw picked sample 0's own mass
    ++pasted;
    EXPECT_EQ(out.labels[0].item<int64_t>(), 1);
    const auto b = out.boxes[0];
    EXPECT_FLOAT_EQ((b[2] - b[0]).item<float>(), 20.f);
    EXPECT_FLOAT_EQ((b[3] - b[1]).item<float>(), 16.f);
    const auto x0 = b[0].item<int64_t>(), y0 = b[1].item<int64_t>();
    // Away from the target's own mass, bright in the middle, the target's grey outside the box.
    EXPECT_TRUE(x0 >= 30 || y0 >= 30) << b;
    EXPECT_GT(out.grey.slice(0, y0 + 6, y0 + 10).slice(1, x0 + 8, x0 + 12).min().item<float>(),
              249.f);
    auto outside = out.grey.clone();
    outside.slice(0, y0, y0 + 16).slice(1, x0, x0 + 20).fill_(100);
    EXPECT_TRUE(outside.equal(target_.grey));
    // The target's own pixels are not touched: the cache keeps them.
    EXPECT_EQ(target_.grey.max().item<float>(), 100.f);
  }
  EXPECT_GT(pasted, 5);
}

TEST_F(PasteMassesTest, OnlyOnTissueAndNeverIntoItsOwnFilm) {
  target_.grey = at::zeros({100, 120});  // no tissue anywhere
  for (uint64_t seed = 0; seed < 10; ++seed) {
    const auto out = paste(seed, 3);
    EXPECT_EQ(out.boxes.size(0), 0);
    EXPECT_TRUE(out.grey.is_same(target_.grey));
  }
  target_.grey = at::full({100, 120}, 100.0);
  samples_.resize(1);  // the bank holds the target's own mass only
  for (uint64_t seed = 0; seed < 10; ++seed) EXPECT_EQ(paste(seed, 3).boxes.size(0), 0);
}

TEST_F(PasteMassesTest, MassesAtTheSkinLineAreLeftOut) {
  source_.slice(0, 10, 18).slice(1, 25, 30).fill_(0);  // half of the source box is background
  for (uint64_t seed = 0; seed < 10; ++seed) {
    const auto out = paste(seed, 3);
    EXPECT_EQ(out.boxes.size(0), 0);
    EXPECT_TRUE(out.grey.is_same(target_.grey));
  }
}

TEST_F(PasteMassesTest, SeveralMassesNeverOverlap) {
  samples_.push_back(sample_with_box(40, 20, 60, 36, 1));
  bool several = false;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const auto out = paste(seed, 4);
    const auto b = at::cat({samples_[0].boxes, out.boxes});
    several |= out.boxes.size(0) > 1;
    for (int64_t i = 0; i < b.size(0); ++i)
      for (int64_t j = i + 1; j < b.size(0); ++j) {
        const bool apart = (b[i][2] <= b[j][0]).item<bool>() || (b[j][2] <= b[i][0]).item<bool>() ||
                           (b[i][3] <= b[j][1]).item<bool>() || (b[j][3] <= b[i][1]).item<bool>();
        EXPECT_TRUE(apart) << b;
      }
  }
  EXPECT_TRUE(several);
}

TEST(PasteAlpha, OneInsideZeroAtTheCornersSymmetric) {
  const auto a = paste_alpha(16, 20);
  EXPECT_FLOAT_EQ(a[8][10].item<float>(), 1.f);
  EXPECT_FLOAT_EQ(a[0][0].item<float>(), 0.f);
  EXPECT_FLOAT_EQ(a[15][19].item<float>(), 0.f);
  EXPECT_TRUE(a.equal(a.flip({0})));
  EXPECT_TRUE(a.allclose(a.flip({1})));
  EXPECT_GE(a.min().item<float>(), 0.f);
  EXPECT_LE(a.max().item<float>(), 1.f);
}

}  // namespace
}  // namespace mbmd::engine
