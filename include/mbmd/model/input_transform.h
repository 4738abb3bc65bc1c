// From an image to the network input: the breast-region crop, resize keeping the ratio, normalise,
// pad (docs/design.md, "Faster R-CNN defaults", "Breast region"), and the bookkeeping that maps
// boxes back to the original image.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "mbmd/model/breast_region.h"
#include "mbmd/model/detector_options.h"

namespace mbmd::model {

// Original pixels map to input coordinates as x_in = (x - crop_x) * scale_x, then mirrored
// (x_in -> width - x_in) when flipped and y_in -> height - y_in when vflipped.
struct ImageMeta {
  int64_t original_height = 0, original_width = 0;
  int64_t height = 0, width = 0;    // after resizing, before padding
  double scale_x = 1, scale_y = 1;  // resized / original (of the cropped window)
  double crop_x = 0, crop_y = 0;    // where the input's left and top edges lie in original pixels
  bool flipped = false;             // mirrored left-right (a flip or input.canonical_side)
  bool vflipped = false;            // mirrored top-bottom (training augmentation)
};

struct PreparedImage {
  at::Tensor tensor;  // float32 [3, height, width], normalised
  ImageMeta meta;
};

struct Batch {
  at::Tensor images;  // [N, 3, H, W], padded to the size divisor
  std::vector<ImageMeta> metas;
  std::vector<at::Tensor> gt_boxes;   // per image [G, 4] in input (resized) coordinates
  std::vector<at::Tensor> gt_labels;  // per image [G], 0-based foreground classes
};

// The (height, width) an image of h x w pixels is resized to (before padding), by the rule of
// options.resize (mmdetection's or torchvision's).
std::pair<int64_t, int64_t> resized_size(int64_t h, int64_t w, const InputOptions& options);

// The part of an image the network sees and whether it is mirrored: the breast region of
// input.crop_breast (else the whole image), widened so that every box of `keep` ([G, 4] original
// pixels, may be undefined) lies inside whole, and mirror = input.canonical_side and the breast
// lies in the right half. `grey` is [H, W] 0..255.
struct InputRegion {
  PixelWindow window;
  bool mirror = false;
};
InputRegion input_region(const at::Tensor& grey, const InputOptions& options,
                         const at::Tensor& keep = at::Tensor());

// `image` holds grey values 0..255 as [H, W] or [1|3, H, W] (float or uint8); it is cropped to
// input_region (with `keep`: in training the ground-truth boxes, never cut), resized, normalised
// and mirrored when `flip` differs from the region's mirror. Throws mbmd::Error for any other rank
// or channel count.
PreparedImage prepare_image(const at::Tensor& image, const InputOptions& options, bool flip = false,
                            const at::Tensor& keep = at::Tensor());

// Boxes in original pixels to input coordinates (cropped, scaled, mirrored as the meta says), and
// back; the two are inverse maps.
at::Tensor boxes_to_input(const at::Tensor& boxes, const ImageMeta& meta);
at::Tensor boxes_to_original(const at::Tensor& boxes, const ImageMeta& meta);

// Pads right and bottom with zeros to a common size, a multiple of the size divisor.
Batch collate(const std::vector<PreparedImage>& images, int64_t size_divisor);

}  // namespace mbmd::model
