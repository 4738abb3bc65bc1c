// From an image to the network input: resize keeping the ratio, normalise, pad
// (docs/design.md, "Faster R-CNN defaults"), and the bookkeeping that maps boxes back to the
// original image.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "mbmd/model/detector_options.h"

namespace mbmd::model {

struct ImageMeta {
  int64_t original_height = 0, original_width = 0;
  int64_t height = 0, width = 0;    // after resizing, before padding
  double scale_x = 1, scale_y = 1;  // resized / original
  bool flipped = false;
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

// `image` holds grey values 0..255 as [H, W] or [1|3, H, W] (float or uint8). Throws mbmd::Error
// for any other rank or channel count.
PreparedImage prepare_image(const at::Tensor& image, const InputOptions& options,
                            bool flip = false);

// Boxes in original pixels to input coordinates (scaled, mirrored when flipped), and back.
at::Tensor boxes_to_input(const at::Tensor& boxes, const ImageMeta& meta);
at::Tensor boxes_to_original(const at::Tensor& boxes, const ImageMeta& meta);

// Pads right and bottom with zeros to a common size, a multiple of the size divisor.
Batch collate(const std::vector<PreparedImage>& images, int64_t size_divisor);

}  // namespace mbmd::model
