// Training augmentation (the `augment` section, docs/config.md; how it stays deterministic and
// exact: docs/training.md, "Augmentation"). Each image of each epoch gets one draw, a function of
// (train.seed, epoch, sample index) alone; geometric changes move the ground-truth boxes exactly,
// through model::ImageMeta (crop offset, scale, mirrors), and a random crop never cuts a box.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <cstdint>

#include "mbmd/core/config.h"
#include "mbmd/model/input_transform.h"

namespace mbmd::engine {

struct AugmentOptions {
  double vflip_prob = 0.0;
  // Short side of the input drawn per image from [lo, hi] pixels (the long side stays within
  // input.scale's); {0, 0} keeps input.scale.
  std::array<int64_t, 2> scale_range{0, 0};
  double crop_prob = 0.0;
  double crop_min_size = 0.6;  // a crop's side, as a fraction of the image's, at least
  std::array<double, 2> gamma{1.0, 1.0};
  std::array<double, 2> contrast{1.0, 1.0};
  std::array<double, 2> brightness{0.0, 0.0};  // grey levels added
  // Copy-paste (copy_paste.h): the probability that an image gets 1..copy_paste_max masses of
  // other training films.
  double copy_paste_prob = 0.0;
  int64_t copy_paste_max = 1;

  bool multi_scale() const { return scale_range[1] > 0; }
  // Multi-scale or crops: the pipeline must keep the image before it is resized.
  bool geometric() const { return multi_scale() || crop_prob > 0; }
};

// Reads and checks `augment.*`; a bad value is an mbmd::Error naming its key.
AugmentOptions augment_options_from_config(const Json& config);

// One image's draw. Every value is drawn on every call, in a fixed order, so that switching one
// augmentation on does not change the draws of the others.
struct AugmentDraw {
  bool vflip = false;
  int64_t short_side = 0;  // 0: input.scale's
  bool crop = false;
  double crop_width = 1.0, crop_height = 1.0;  // fractions of the image's sides
  double crop_u = 0.0, crop_v = 0.0;           // position within the allowed range, [0, 1)
  double gamma = 1.0, contrast = 1.0, brightness = 0.0;
  bool paste = false;
  uint64_t paste_seed = 0;  // what paste_masses draws
};
AugmentDraw draw_augment(const AugmentOptions& options, uint64_t seed, int64_t epoch,
                         size_t sample);

// The random crop of a height x width image: a window of the drawn size, grown to the box hull of
// `boxes` ([N, 4] in the image's pixels) when that is larger, and placed so that it holds every
// box whole. The whole image when the draw has no crop.
model::PixelWindow crop_window(int64_t height, int64_t width, const at::Tensor& boxes,
                               const AugmentDraw& draw);

// Gamma, then contrast about the image's mean, then brightness, on grey values 0..255; the result
// is clamped to 0..255. The identity (returns `grey` itself) for gamma 1, contrast 1, brightness 0.
at::Tensor jitter_grey(const at::Tensor& grey, const AugmentDraw& draw);

// The image a training sample's geometric draws start from: its input region (breast crop and
// canonical side of input.*, holding the ground truth), scaled down by `scale` where even the
// largest drawn input would not need all its pixels, kept in half precision (11 significant bits,
// finer than an eighth of a grey level) to keep data.cache small.
struct BaseImage {
  at::Tensor grey;  // half [h, w]
  int64_t original_height = 0, original_width = 0;
  model::PixelWindow window;        // the input region, in original pixels
  double scale_x = 1, scale_y = 1;  // base pixels / original pixels
  bool mirror = false;              // input.canonical_side
};
BaseImage make_base(const at::Tensor& image, const model::InputOptions& input,
                    const AugmentOptions& augment, const at::Tensor& keep);

// The resized grey image [h, w] (0..255, not normalised) of a draw's crop and scale, with the meta
// that maps original pixels onto it (mirrored by the base's canonical side; vertical flips and
// jitter come later). `boxes` are the sample's ground truth in original pixels.
struct ResizedGrey {
  at::Tensor grey;
  model::ImageMeta meta;
};
ResizedGrey resize_base(const BaseImage& base, const model::InputOptions& input,
                        const AugmentDraw& draw, const at::Tensor& boxes);

}  // namespace mbmd::engine
