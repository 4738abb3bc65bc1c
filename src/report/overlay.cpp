#include "mbmd/report/overlay.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "mbmd/core/error.h"
#include "mbmd/data/png.h"

namespace mbmd::engine {
namespace {

// 3x5 glyphs, one row per string, '#' = ink.
struct Glyph {
  char c;
  const char* rows[5];
};
constexpr Glyph kFont[] = {
    {'0', {"###", "#.#", "#.#", "#.#", "###"}}, {'1', {".#.", "##.", ".#.", ".#.", "###"}},
    {'2', {"###", "..#", "###", "#..", "###"}}, {'3', {"###", "..#", "###", "..#", "###"}},
    {'4', {"#.#", "#.#", "###", "..#", "..#"}}, {'5', {"###", "#..", "###", "..#", "###"}},
    {'6', {"###", "#..", "###", "#.#", "###"}}, {'7', {"###", "..#", ".#.", ".#.", ".#."}},
    {'8', {"###", "#.#", "###", "#.#", "###"}}, {'9', {"###", "#.#", "###", "..#", "###"}},
    {'.', {"...", "...", "...", "...", ".#."}}, {'-', {"...", "...", "###", "...", "..."}},
};

const Glyph* find_glyph(char c) {
  for (const auto& g : kFont)
    if (g.c == c) return &g;
  return nullptr;
}

void fill(at::Tensor& image, int64_t x1, int64_t y1, int64_t x2, int64_t y2, float value) {
  // Fills [x1, x2) x [y1, y2), clipped.
  const int64_t h = image.size(0), w = image.size(1);
  x1 = std::clamp<int64_t>(x1, 0, w);
  x2 = std::clamp<int64_t>(x2, 0, w);
  y1 = std::clamp<int64_t>(y1, 0, h);
  y2 = std::clamp<int64_t>(y2, 0, h);
  if (x1 >= x2 || y1 >= y2) return;
  image.slice(0, y1, y2).slice(1, x1, x2).fill_(value);
}

// A finite coordinate clamped into 0..size-1 before the cast, so that far-away values cast safely.
int64_t pixel_index(double v, int64_t size) {
  return static_cast<int64_t>(std::clamp(v, 0.0, static_cast<double>(size - 1)));
}

}  // namespace

void draw_rectangle(at::Tensor& image, float x1, float y1, float x2, float y2, int thickness,
                    float value) {
  if (image.dim() != 2) throw Error("draw_rectangle needs a [H, W] image");
  // A box with a NaN or infinite corner has no place to draw (and casting it would be undefined).
  for (const float v : {x1, y1, x2, y2})
    if (!std::isfinite(v)) return;
  // Clipped first, so that a box reaching past the image still shows its edge on the border.
  const int64_t h = image.size(0), w = image.size(1);
  const auto l = pixel_index(std::floor(x1), w), t = pixel_index(std::floor(y1), h);
  const auto r = pixel_index(std::ceil(x2), w), b = pixel_index(std::ceil(y2), h);
  const int64_t k = std::max(1, thickness);
  fill(image, l, t, r + 1, t + k, value);          // top
  fill(image, l, b + 1 - k, r + 1, b + 1, value);  // bottom
  fill(image, l, t, l + k, b + 1, value);          // left
  fill(image, r + 1 - k, t, r + 1, b + 1, value);  // right
}

void draw_text(at::Tensor& image, int x, int y, const std::string& text, int scale, float value,
               float background) {
  if (image.dim() != 2) throw Error("draw_text needs a [H, W] image");
  const int s = std::max(1, scale);
  const int advance = 4 * s;
  fill(image, x - s, y - s, x + static_cast<int>(text.size()) * advance, y + 6 * s, background);
  for (size_t i = 0; i < text.size(); ++i) {
    const Glyph* g = find_glyph(text[i]);
    if (!g) continue;
    const int gx = x + static_cast<int>(i) * advance;
    for (int row = 0; row < 5; ++row)
      for (int col = 0; col < 3; ++col)
        if (g->rows[row][col] == '#')
          fill(image, gx + col * s, y + row * s, gx + (col + 1) * s, y + (row + 1) * s, value);
  }
}

at::Tensor draw_detections(const at::Tensor& grey, const model::Detections& d, double score_thr) {
  if (grey.dim() != 2) throw Error("an overlay needs a grey [H, W] image");
  at::Tensor image = grey.to(at::kFloat).clamp(0, 255).contiguous().clone();
  if (!d.boxes.defined() || d.boxes.numel() == 0) return image;
  const int64_t h = image.size(0), w = image.size(1);
  // Lines and text grow with the image so that they stay visible on full-size mammograms.
  const int thickness = static_cast<int>(std::max<int64_t>(1, std::min(h, w) / 300));
  const int scale = static_cast<int>(std::max<int64_t>(1, std::min(h, w) / 250));
  const auto boxes = d.boxes.to(at::kFloat).contiguous();
  const auto scores = d.scores.to(at::kDouble).contiguous();
  // Lowest scores first, so that the best boxes end up on top.
  const auto order = scores.argsort();
  for (int64_t n = 0; n < order.size(0); ++n) {
    const int64_t i = order[n].item<int64_t>();
    const double score = scores[i].item<double>();
    if (score < score_thr) continue;
    const float x1 = boxes[i][0].item<float>(), y1 = boxes[i][1].item<float>();
    const float x2 = boxes[i][2].item<float>(), y2 = boxes[i][3].item<float>();
    if (!std::isfinite(x1) || !std::isfinite(y1) || !std::isfinite(x2) || !std::isfinite(y2))
      continue;
    // A black edge around a white line keeps the box visible on bright and dark tissue alike.
    draw_rectangle(image, x1 - thickness, y1 - thickness, x2 + thickness, y2 + thickness,
                   3 * thickness, 0.0f);
    draw_rectangle(image, x1, y1, x2, y2, thickness, 255.0f);
    char text[16];
    std::snprintf(text, sizeof text, "%.2f", score);
    const int text_height = 6 * scale;
    const int left = static_cast<int>(pixel_index(std::floor(x1), w));
    const int top = static_cast<int>(pixel_index(std::floor(y1), h));
    int ty = top - thickness - text_height;
    if (ty < scale) ty = top + thickness + scale;  // inside the box
    draw_text(image, left + scale, ty, text, scale, 255.0f, 0.0f);
  }
  return image;
}

void write_overlay(const std::string& path, const at::Tensor& grey,
                   const model::Detections& detections, double score_thr) {
  data::write_png(path, draw_detections(grey, detections, score_thr), 8);
}

}  // namespace mbmd::engine
