#include "mbmd/model/input_transform.h"

#include <algorithm>
#include <cmath>

#include "mbmd/core/error.h"

namespace mbmd::model {

namespace {

at::Tensor as_three_channels(const at::Tensor& image) {
  at::Tensor chw;
  if (image.dim() == 2) {
    chw = image.unsqueeze(0);
  } else if (image.dim() == 3) {
    chw = image;
  } else {
    throw Error("image tensor must have rank 2 [H, W] or 3 [C, H, W], got rank " +
                std::to_string(image.dim()));
  }
  if (chw.size(0) == 1) chw = chw.expand({3, chw.size(1), chw.size(2)});
  if (chw.size(0) != 3)
    throw Error("image tensor must have 1 or 3 channels, got " + std::to_string(chw.size(0)));
  if (chw.size(1) < 1 || chw.size(2) < 1) throw Error("image tensor is empty");
  return chw.to(at::kFloat);
}

// mmdetection (mmcv.imrescale): scale = min(long_max / long, short_max / short),
// new size = int(size * scale + 0.5).
std::pair<int64_t, int64_t> mmdet_size(int64_t h, int64_t w, const InputOptions& o) {
  const double scale = std::min(static_cast<double>(o.max_long) / std::max(h, w),
                                static_cast<double>(o.max_short) / std::min(h, w));
  return {static_cast<int64_t>(h * scale + 0.5), static_cast<int64_t>(w * scale + 0.5)};
}

// torchvision (GeneralizedRCNNTransform): the scale is computed in float32, and
// interpolate(scale_factor, recompute_scale_factor=True) takes floor(size * scale).
std::pair<int64_t, int64_t> torchvision_size(int64_t h, int64_t w, const InputOptions& o) {
  const float scale = std::min(static_cast<float>(o.max_short) / static_cast<float>(std::min(h, w)),
                               static_cast<float>(o.max_long) / static_cast<float>(std::max(h, w)));
  const double s = static_cast<double>(scale);
  return {static_cast<int64_t>(std::floor(static_cast<double>(h) * s)),
          static_cast<int64_t>(std::floor(static_cast<double>(w) * s))};
}

}  // namespace

std::pair<int64_t, int64_t> resized_size(int64_t h, int64_t w, const InputOptions& o) {
  return o.resize == "torchvision" ? torchvision_size(h, w, o) : mmdet_size(h, w, o);
}

InputRegion input_region(const at::Tensor& grey, const InputOptions& o, const at::Tensor& keep) {
  const int64_t h = grey.size(-2), w = grey.size(-1);
  InputRegion region;
  region.window = {0, 0, w, h};
  if (!o.crop_breast.enabled && !o.canonical_side) return region;
  const auto breast = find_breast_region(grey, o.crop_breast.threshold, o.crop_breast.margin);
  if (o.crop_breast.enabled) region.window = widen_to_boxes(breast.window, keep, h, w);
  region.mirror = o.canonical_side && breast.found && breast.centre_x > static_cast<double>(w) / 2;
  return region;
}

PreparedImage prepare_image(const at::Tensor& image, const InputOptions& o, bool flip,
                            const at::Tensor& keep) {
  auto chw = as_three_channels(image);
  const int64_t full_h = chw.size(1), full_w = chw.size(2);
  const InputRegion region = input_region(chw.select(0, 0), o, keep);
  const PixelWindow& window = region.window;
  chw = chw.slice(1, window.y0, window.y1).slice(2, window.x0, window.x1);
  const int64_t h = window.height(), w = window.width();
  const auto [new_h, new_w] = resized_size(h, w, o);
  if (o.unit_range) chw = chw / 255.0;
  // With unit_range the mean and std are in 0..1 units, as torchvision gives them.
  // On the image's device, so that a GPU caller can prepare images there.
  auto mean =
      at::tensor({o.mean[0], o.mean[1], o.mean[2]}, at::kFloat).view({3, 1, 1}).to(chw.device());
  auto std =
      at::tensor({o.std[0], o.std[1], o.std[2]}, at::kFloat).view({3, 1, 1}).to(chw.device());
  // Normalising is affine per channel and bilinear weights sum to one, so the order of the two
  // steps only matters to rounding; torchvision normalises first, and so do we.
  chw = (chw - mean) / std;
  if (new_h != h || new_w != w) {
    chw = at::upsample_bilinear2d(chw.unsqueeze(0), {new_h, new_w}, /*align_corners=*/false)
              .squeeze(0);
  }
  const bool mirrored = flip != region.mirror;
  if (mirrored) chw = chw.flip({2});
  PreparedImage out;
  out.tensor = chw.contiguous();
  out.meta.original_height = full_h;
  out.meta.original_width = full_w;
  out.meta.height = new_h;
  out.meta.width = new_w;
  out.meta.scale_x = static_cast<double>(new_w) / w;
  out.meta.scale_y = static_cast<double>(new_h) / h;
  out.meta.crop_x = static_cast<double>(window.x0);
  out.meta.crop_y = static_cast<double>(window.y0);
  out.meta.flipped = mirrored;
  return out;
}

namespace {

// Mirrors boxes in input coordinates as the meta says; its own inverse.
at::Tensor mirror_boxes(const at::Tensor& boxes, const ImageMeta& m) {
  auto out = boxes;
  if (m.flipped) {
    const double w = static_cast<double>(m.width);
    out = at::stack(
        {w - out.select(1, 2), out.select(1, 1), w - out.select(1, 0), out.select(1, 3)}, 1);
  }
  if (m.vflipped) {
    const double h = static_cast<double>(m.height);
    out = at::stack(
        {out.select(1, 0), h - out.select(1, 3), out.select(1, 2), h - out.select(1, 1)}, 1);
  }
  return out;
}

}  // namespace

at::Tensor boxes_to_input(const at::Tensor& boxes, const ImageMeta& m) {
  if (boxes.numel() == 0) return boxes.reshape({0, 4}).to(at::kFloat);
  const auto options = boxes.options().dtype(at::kFloat);
  auto scale = at::tensor({m.scale_x, m.scale_y, m.scale_x, m.scale_y}, options);
  auto offset = at::tensor({m.crop_x, m.crop_y, m.crop_x, m.crop_y}, options);
  return mirror_boxes((boxes.to(at::kFloat) - offset) * scale, m);
}

at::Tensor boxes_to_original(const at::Tensor& boxes, const ImageMeta& m) {
  auto out = mirror_boxes(boxes, m);
  auto scale = at::tensor({m.scale_x, m.scale_y, m.scale_x, m.scale_y}, out.options());
  auto offset = at::tensor({m.crop_x, m.crop_y, m.crop_x, m.crop_y}, out.options());
  return out / scale + offset;
}

Batch collate(const std::vector<PreparedImage>& images, int64_t size_divisor) {
  if (images.empty()) throw Error("cannot make a batch of no images");
  int64_t h = 0, w = 0;
  for (const auto& im : images) {
    h = std::max(h, im.tensor.size(1));
    w = std::max(w, im.tensor.size(2));
  }
  h = (h + size_divisor - 1) / size_divisor * size_divisor;
  w = (w + size_divisor - 1) / size_divisor * size_divisor;
  Batch batch;
  batch.images =
      at::zeros({static_cast<int64_t>(images.size()), 3, h, w}, images[0].tensor.options());
  for (size_t i = 0; i < images.size(); ++i) {
    const auto& t = images[i].tensor;
    batch.images[i].slice(1, 0, t.size(1)).slice(2, 0, t.size(2)).copy_(t);
    batch.metas.push_back(images[i].meta);
  }
  return batch;
}

}  // namespace mbmd::model
