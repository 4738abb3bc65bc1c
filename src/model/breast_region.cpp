#include "mbmd/model/breast_region.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "mbmd/core/error.h"

namespace mbmd::model {

namespace {

// The mask is at most this many blocks on its long side: a 1024-pixel film is labelled on a
// 512 x 512 grid of 2 x 2 blocks (milliseconds), and a 4000 x 5600 DICOM on 8 x 8 blocks.
constexpr int64_t kMaxMaskSide = 512;

struct Component {
  int64_t size = 0;
  int64_t min_row = 0, max_row = 0, min_col = 0, max_col = 0;
  double sum_col = 0.0;
};

// Blocks whose mean grey value is above the threshold, as uint8 [rows, cols] on the CPU. The
// mean (not the maximum) keeps film noise and thin scanner lines from joining the breast.
at::Tensor block_mask(const at::Tensor& grey, int64_t block, double threshold) {
  auto g = grey.to(at::kFloat).unsqueeze(0).unsqueeze(0);
  if (block > 1)
    g = at::avg_pool2d(g, {block, block}, {block, block}, {0, 0}, /*ceil_mode=*/true,
                       /*count_include_pad=*/false);
  return g.squeeze(0).squeeze(0).gt(threshold).to(at::kByte).cpu().contiguous();
}

// Breadth-first search from (row, col) over 4-connected set cells, clearing them as it goes.
Component flood(uint8_t* cells, int64_t rows, int64_t cols, int64_t row, int64_t col,
                std::vector<int64_t>& queue) {
  Component c;
  c.min_row = c.max_row = row;
  c.min_col = c.max_col = col;
  queue.clear();
  queue.push_back(row * cols + col);
  cells[row * cols + col] = 0;
  for (size_t head = 0; head < queue.size(); ++head) {
    const int64_t r = queue[head] / cols, k = queue[head] % cols;
    ++c.size;
    c.sum_col += static_cast<double>(k);
    c.min_row = std::min(c.min_row, r);
    c.max_row = std::max(c.max_row, r);
    c.min_col = std::min(c.min_col, k);
    c.max_col = std::max(c.max_col, k);
    const int64_t next[4][2] = {{r - 1, k}, {r + 1, k}, {r, k - 1}, {r, k + 1}};
    for (const auto& n : next) {
      if (n[0] < 0 || n[0] >= rows || n[1] < 0 || n[1] >= cols) continue;
      const int64_t at = n[0] * cols + n[1];
      if (!cells[at]) continue;
      cells[at] = 0;
      queue.push_back(at);
    }
  }
  return c;
}

Component largest_component(at::Tensor mask) {
  const int64_t rows = mask.size(0), cols = mask.size(1);
  uint8_t* cells = mask.data_ptr<uint8_t>();
  Component best;
  std::vector<int64_t> queue;
  for (int64_t i = 0; i < rows * cols; ++i) {
    if (!cells[i]) continue;
    const Component c = flood(cells, rows, cols, i / cols, i % cols, queue);
    if (c.size > best.size) best = c;
  }
  return best;
}

}  // namespace

BreastRegion find_breast_region(const at::Tensor& grey, double threshold, int64_t margin) {
  if (grey.dim() != 2)
    throw Error("the breast region needs a grey image [H, W], got rank " +
                std::to_string(grey.dim()));
  const int64_t h = grey.size(0), w = grey.size(1);
  BreastRegion region;
  region.window = {0, 0, w, h};
  region.centre_x = static_cast<double>(w) / 2;
  if (h < 1 || w < 1) return region;
  const int64_t block = (std::max(h, w) + kMaxMaskSide - 1) / kMaxMaskSide;
  const Component c = largest_component(block_mask(grey, block, threshold));
  if (c.size == 0) return region;
  region.found = true;
  region.window.x0 = std::max<int64_t>(0, c.min_col * block - margin);
  region.window.y0 = std::max<int64_t>(0, c.min_row * block - margin);
  region.window.x1 = std::min(w, (c.max_col + 1) * block + margin);
  region.window.y1 = std::min(h, (c.max_row + 1) * block + margin);
  region.centre_x = (c.sum_col / static_cast<double>(c.size) + 0.5) * static_cast<double>(block);
  return region;
}

PixelWindow widen_to_boxes(const PixelWindow& window, const at::Tensor& boxes, int64_t height,
                           int64_t width) {
  PixelWindow out = window;
  if (!boxes.defined() || boxes.numel() == 0) return out;
  const auto b = boxes.reshape({-1, 4}).to(at::kDouble).cpu();
  const auto low = std::get<0>(b.min(0)), high = std::get<0>(b.max(0));
  const auto floor_of = [](const at::Tensor& v) {
    return static_cast<int64_t>(std::floor(v.item<double>()));
  };
  const auto ceil_of = [](const at::Tensor& v) {
    return static_cast<int64_t>(std::ceil(v.item<double>()));
  };
  out.x0 = std::clamp<int64_t>(std::min(out.x0, floor_of(low[0])), 0, width);
  out.y0 = std::clamp<int64_t>(std::min(out.y0, floor_of(low[1])), 0, height);
  out.x1 = std::clamp<int64_t>(std::max(out.x1, ceil_of(high[2])), 0, width);
  out.y1 = std::clamp<int64_t>(std::max(out.y1, ceil_of(high[3])), 0, height);
  return out;
}

}  // namespace mbmd::model
