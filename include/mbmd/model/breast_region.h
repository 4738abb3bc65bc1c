// The breast region of a grey film: threshold, the largest connected component, its bounding box
// plus a margin (docs/design.md, "Breast region"). The network then looks at that window only,
// without the black background and the labels burnt into the film.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace mbmd::model {

// A window of whole pixels: columns [x0, x1) and rows [y0, y1), in the image's own pixels.
struct PixelWindow {
  int64_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  int64_t width() const { return x1 - x0; }
  int64_t height() const { return y1 - y0; }
};

struct BreastRegion {
  PixelWindow window;     // the whole image when nothing is above the threshold
  bool found = false;     // false: no pixel (block) above the threshold
  double centre_x = 0.0;  // the component's mean column, in pixels (for the canonical side)
};

// `grey` is [H, W] with values 0..255. Pixels are averaged over blocks of f x f (f = ceil(long
// side / 512)), blocks above `threshold` are kept, and the largest 4-connected component of them
// gives the window: its blocks mapped back to pixels (so it is exact to a block), grown by
// `margin` pixels on every side and clipped to the image. Throws mbmd::Error for another rank.
BreastRegion find_breast_region(const at::Tensor& grey, double threshold, int64_t margin);

// The smallest window holding `window` and every box of `boxes` ([N, 4] x1 y1 x2 y2 in pixel-edge
// coordinates, floor and ceil), clipped to a height x width image.
PixelWindow widen_to_boxes(const PixelWindow& window, const at::Tensor& boxes, int64_t height,
                           int64_t width);

}  // namespace mbmd::model
