// Overlay pictures: rectangles, digits and detections drawn over a film.
#include "mbmd/report/overlay.h"

#include <gtest/gtest.h>

#include <limits>

#include "synthetic_set.h"

namespace mbmd::engine {
namespace {

using mbmd::testing::two_detections;

TEST(Overlay, RectanglesAndDigits) {
  at::Tensor image = at::zeros({20, 30});
  draw_rectangle(image, 2, 3, 10, 12, 1, 255.0f);
  EXPECT_EQ(image[3][2].item<float>(), 255.0f);    // top-left corner
  EXPECT_EQ(image[12][10].item<float>(), 255.0f);  // bottom-right corner
  EXPECT_EQ(image[7][10].item<float>(), 255.0f);   // right edge
  EXPECT_EQ(image[7][6].item<float>(), 0.0f);      // inside stays
  EXPECT_EQ(image.sum().item<float>(), 255.0f * (2 * 9 + 2 * 8));
  // Drawing off the image is clipped, not an error.
  draw_rectangle(image, -5, -5, 100, 100, 2, 7.0f);
  EXPECT_EQ(image[0][0].item<float>(), 7.0f);

  at::Tensor text = at::zeros({7, 10});
  draw_text(text, 1, 1, "1", 1, 255.0f, 50.0f);
  // Glyph '1' rows: .#. ##. .#. .#. ###  -> 8 ink cells; the rest of its box is background.
  EXPECT_EQ((text == 255.0f).sum().item<int64_t>(), 8);
  EXPECT_EQ(text[1][2].item<float>(), 255.0f);
  EXPECT_EQ(text[1][1].item<float>(), 50.0f);

  at::Tensor grey = at::full({40, 60}, 100.0f);
  const auto drawn = draw_detections(grey, two_detections(), 0.5);
  EXPECT_EQ(drawn[20][10].item<float>(), 255.0f);  // the 0.9 box's corner
  EXPECT_EQ(drawn[6][9].item<float>(), 100.0f);    // the 0.2 box is under the threshold
  EXPECT_EQ(grey[20][10].item<float>(), 100.0f);   // the input is left as it was
}

// A model that diverged can give NaN or huge boxes: they are skipped or clipped, never cast
// unchecked (undefined behaviour that UBSan reports).
TEST(Overlay, NonFiniteAndFarBoxesAreSkippedOrClipped) {
  at::Tensor image = at::zeros({20, 30});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  draw_rectangle(image, nan, 1, 5, 5, 1, 255.0f);
  draw_rectangle(image, 1, 1, inf, 5, 1, 255.0f);
  EXPECT_EQ(image.sum().item<float>(), 0.0f);
  draw_rectangle(image, -1e30f, -1e30f, 1e30f, 1e30f, 1, 9.0f);
  EXPECT_EQ(image[0][0].item<float>(), 9.0f);
  EXPECT_EQ(image[19][29].item<float>(), 9.0f);

  model::Detections d;
  d.boxes = at::tensor({nan, nan, nan, nan, -1e30f, 2e30f, 1e30f, 3e30f}, at::kFloat).view({2, 4});
  d.scores = at::tensor({0.9f, 0.8f});
  d.labels = at::zeros({2}, at::kLong);
  const auto drawn = draw_detections(at::full({40, 60}, 100.0f), d, 0.5);
  EXPECT_TRUE(drawn.isfinite().all().item<bool>());
  EXPECT_EQ(drawn[39][0].item<float>(), 255.0f);  // the far box clipped to the bottom rows
}

}  // namespace
}  // namespace mbmd::engine
