#include "mbmd/pipeline/augment.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "mbmd/core/error.h"
#include "mbmd/core/seed.h"

namespace mbmd::engine {

namespace {

// The augmentation draws' own stream of derive_seed, apart from the epoch orders (stream = epoch)
// and the training iterations (2^40 + iteration, src/train/trainer.cpp).
constexpr uint64_t kAugmentStream = uint64_t{1} << 41;

void require(bool ok, const std::string& key, const std::string& why) {
  if (!ok) throw Error("config key '" + key + "': " + why);
}

template <typename T>
std::array<T, 2> range(const Json& config, const std::string& key) {
  const auto values = config_at(config, key).get<std::vector<T>>();
  require(values.size() == 2 && values[0] <= values[1], key,
          "must be [low, high] with low <= high");
  return {values[0], values[1]};
}

double probability(const Json& config, const std::string& key) {
  const double p = config_at(config, key).get<double>();
  require(p >= 0 && p <= 1, key, "must be a probability in [0, 1]");
  return p;
}

// [0, 1) from the top 53 bits, as plan_epoch draws its flips: the same on every standard library.
double uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

double in_range(const std::array<double, 2>& r, double u) { return r[0] + u * (r[1] - r[0]); }

// Where a span of `fraction` x size starts so that it holds [lo_edge, hi_edge) (nothing when
// lo_edge >= hi_edge), grown to that length when it is shorter; u in [0, 1) picks the place.
std::pair<int64_t, int64_t> place_span(int64_t size, double fraction, double u, int64_t lo_edge,
                                       int64_t hi_edge) {
  int64_t span = std::clamp<int64_t>(std::llround(fraction * static_cast<double>(size)), 1, size);
  span = std::max(span, hi_edge - lo_edge);
  const int64_t first = std::max<int64_t>(0, hi_edge - span);
  const int64_t last = std::min(lo_edge, size - span);
  const int64_t choices = last - first + 1;
  const int64_t start =
      first + std::min(choices - 1, static_cast<int64_t>(u * static_cast<double>(choices)));
  return {start, start + span};
}

// The largest factor (at most 1) by which an h x w image can shrink before any draw would need
// to enlarge it again: the smallest crop resized to the largest short side of the draws.
double base_scale(int64_t h, int64_t w, const model::InputOptions& input, const AugmentOptions& a) {
  const double fraction = a.crop_prob > 0 ? a.crop_min_size : 1.0;
  const double max_short =
      static_cast<double>(a.multi_scale() ? a.scale_range[1] : input.max_short);
  const double by_short = max_short / (fraction * static_cast<double>(std::min(h, w)));
  const double by_long =
      static_cast<double>(input.max_long) / (fraction * static_cast<double>(std::max(h, w)));
  return std::min({1.0, by_short, by_long});
}

at::Tensor bilinear(const at::Tensor& grey, int64_t h, int64_t w) {
  if (grey.size(0) == h && grey.size(1) == w) return grey;
  return at::upsample_bilinear2d(grey.unsqueeze(0).unsqueeze(0), {h, w}, /*align_corners=*/false)
      .squeeze(0)
      .squeeze(0);
}

}  // namespace

AugmentOptions augment_options_from_config(const Json& c) {
  AugmentOptions a;
  a.vflip_prob = probability(c, "augment.vflip_prob");
  a.scale_range = range<int64_t>(c, "augment.scale_range");
  require(a.scale_range[1] == 0 || a.scale_range[0] > 0, "augment.scale_range",
          "must be [0, 0] (off) or short sides in pixels, both positive");
  a.crop_prob = probability(c, "augment.crop_prob");
  a.crop_min_size = config_at(c, "augment.crop_min_size").get<double>();
  require(a.crop_min_size > 0 && a.crop_min_size <= 1, "augment.crop_min_size",
          "must be a fraction in (0, 1]");
  a.gamma = range<double>(c, "augment.gamma");
  require(a.gamma[0] > 0, "augment.gamma", "must be positive");
  a.contrast = range<double>(c, "augment.contrast");
  require(a.contrast[0] >= 0, "augment.contrast", "must be >= 0");
  a.brightness = range<double>(c, "augment.brightness");
  require(a.brightness[0] >= -255 && a.brightness[1] <= 255, "augment.brightness",
          "must lie in [-255, 255] grey levels");
  a.copy_paste_prob = probability(c, "augment.copy_paste_prob");
  a.copy_paste_max = config_at(c, "augment.copy_paste_max").get<int64_t>();
  require(a.copy_paste_max >= 1, "augment.copy_paste_max", "must be at least 1");
  return a;
}

AugmentDraw draw_augment(const AugmentOptions& a, uint64_t seed, int64_t epoch, size_t sample) {
  const uint64_t epoch_seed = derive_seed(derive_seed(seed, kAugmentStream), epoch);
  std::mt19937_64 rng(derive_seed(epoch_seed, static_cast<uint64_t>(sample)));
  AugmentDraw d;
  d.vflip = uniform(rng) < a.vflip_prob;
  const double u_scale = uniform(rng);
  if (a.multi_scale()) {
    const int64_t choices = a.scale_range[1] - a.scale_range[0] + 1;
    d.short_side =
        a.scale_range[0] +
        std::min(choices - 1, static_cast<int64_t>(u_scale * static_cast<double>(choices)));
  }
  d.crop = uniform(rng) < a.crop_prob;
  d.crop_width = in_range({a.crop_min_size, 1.0}, uniform(rng));
  d.crop_height = in_range({a.crop_min_size, 1.0}, uniform(rng));
  d.crop_u = uniform(rng);
  d.crop_v = uniform(rng);
  d.gamma = in_range(a.gamma, uniform(rng));
  d.contrast = in_range(a.contrast, uniform(rng));
  d.brightness = in_range(a.brightness, uniform(rng));
  d.paste = uniform(rng) < a.copy_paste_prob;
  d.paste_seed = rng();
  return d;
}

model::PixelWindow crop_window(int64_t height, int64_t width, const at::Tensor& boxes,
                               const AugmentDraw& d) {
  if (!d.crop) return {0, 0, width, height};
  // The boxes' hull in whole pixels; with no box the window stays inverted (x0 > x1) and
  // place_span then ignores it.
  const auto hull = model::widen_to_boxes({width, height, 0, 0}, boxes, height, width);
  const auto [x0, x1] = place_span(width, d.crop_width, d.crop_u, hull.x0, hull.x1);
  const auto [y0, y1] = place_span(height, d.crop_height, d.crop_v, hull.y0, hull.y1);
  return {x0, y0, x1, y1};
}

at::Tensor jitter_grey(const at::Tensor& grey, const AugmentDraw& d) {
  if (d.gamma == 1.0 && d.contrast == 1.0 && d.brightness == 0.0) return grey;
  at::Tensor g = grey;
  if (d.gamma != 1.0) g = (g / 255.0).clamp(0.0, 1.0).pow(d.gamma) * 255.0;
  if (d.contrast != 1.0) {
    const at::Tensor mean = g.mean();
    g = (g - mean) * d.contrast + mean;
  }
  if (d.brightness != 0.0) g = g + d.brightness;
  return g.clamp(0.0, 255.0);
}

BaseImage make_base(const at::Tensor& image, const model::InputOptions& input,
                    const AugmentOptions& a, const at::Tensor& keep) {
  const at::Tensor grey = image.to(at::kFloat);
  const auto region = model::input_region(grey, input, keep);
  const auto& win = region.window;
  const double d = base_scale(win.height(), win.width(), input, a);
  const int64_t h = std::max<int64_t>(1, std::llround(static_cast<double>(win.height()) * d));
  const int64_t w = std::max<int64_t>(1, std::llround(static_cast<double>(win.width()) * d));
  BaseImage base;
  base.original_height = grey.size(0);
  base.original_width = grey.size(1);
  base.window = win;
  base.mirror = region.mirror;
  base.scale_x = static_cast<double>(w) / static_cast<double>(win.width());
  base.scale_y = static_cast<double>(h) / static_cast<double>(win.height());
  const auto cropped = grey.slice(0, win.y0, win.y1).slice(1, win.x0, win.x1);
  base.grey = bilinear(cropped, h, w).to(at::kHalf).contiguous();
  return base;
}

ResizedGrey resize_base(const BaseImage& base, const model::InputOptions& input,
                        const AugmentDraw& draw, const at::Tensor& boxes) {
  // The ground truth in base pixels, for the crop that must hold it.
  at::Tensor in_base;
  if (boxes.defined() && boxes.numel() > 0) {
    const auto b = boxes.reshape({-1, 4}).to(at::kDouble);
    const auto offset =
        at::tensor({base.window.x0, base.window.y0, base.window.x0, base.window.y0}, b.options());
    const auto scale =
        at::tensor({base.scale_x, base.scale_y, base.scale_x, base.scale_y}, b.options());
    in_base = (b - offset) * scale;
  }
  const auto crop = crop_window(base.grey.size(0), base.grey.size(1), in_base, draw);
  model::InputOptions sized = input;
  if (draw.short_side > 0) sized.max_short = draw.short_side;
  const auto [h, w] = model::resized_size(crop.height(), crop.width(), sized);
  auto grey = base.grey.slice(0, crop.y0, crop.y1).slice(1, crop.x0, crop.x1).to(at::kFloat);
  grey = bilinear(grey, h, w);
  if (base.mirror) grey = grey.flip({1});
  ResizedGrey out;
  out.grey = grey.contiguous();
  auto& m = out.meta;
  m.original_height = base.original_height;
  m.original_width = base.original_width;
  m.height = h;
  m.width = w;
  m.scale_x = base.scale_x * static_cast<double>(w) / static_cast<double>(crop.width());
  m.scale_y = base.scale_y * static_cast<double>(h) / static_cast<double>(crop.height());
  m.crop_x = static_cast<double>(base.window.x0) + static_cast<double>(crop.x0) / base.scale_x;
  m.crop_y = static_cast<double>(base.window.y0) + static_cast<double>(crop.y0) / base.scale_y;
  m.flipped = base.mirror;
  return out;
}

}  // namespace mbmd::engine
