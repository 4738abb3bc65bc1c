#include "mbmd/pipeline/copy_paste.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <random>

namespace mbmd::engine {

namespace {

// Places tried for each mass before it is given up.
constexpr int kPlacementTries = 10;
constexpr double kMinTissueShare = 0.9;

using Box = std::array<double, 4>;

// [0, 1) from the top 53 bits: the same on every standard library.
double unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// An integer in [0, n) for u in [0, 1).
int64_t in_count(double u, int64_t n) {
  return std::min(n - 1, static_cast<int64_t>(u * static_cast<double>(n)));
}

int64_t pick(std::mt19937_64& rng, int64_t n) { return in_count(unit(rng), n); }

std::vector<Box> box_rows(const at::Tensor& boxes) {
  std::vector<Box> rows;
  if (!boxes.defined() || boxes.numel() == 0) return rows;
  const auto b = boxes.reshape({-1, 4}).to(at::kDouble).contiguous();
  const double* p = b.data_ptr<double>();
  for (int64_t i = 0; i < b.size(0); ++i)
    rows.push_back({p[4 * i], p[4 * i + 1], p[4 * i + 2], p[4 * i + 3]});
  return rows;
}

double tissue_share(const at::Tensor& grey, double tissue_grey) {
  return grey.gt(tissue_grey).to(at::kFloat).mean().item<double>();
}

bool overlaps_any(const std::vector<Box>& boxes, const Box& b) {
  for (const auto& o : boxes)
    if (b[0] < o[2] && o[0] < b[2] && b[1] < o[3] && o[1] < b[3]) return true;
  return false;
}

// The source box `box` (continuous pixels of `grey`) resampled bilinearly to h x w pixels, each
// output pixel taken at its centre's place in the box.
at::Tensor resample_box(const at::Tensor& grey, const Box& box, int64_t h, int64_t w) {
  const auto options = at::TensorOptions().dtype(at::kFloat);
  const double gw = static_cast<double>(grey.size(1)), gh = static_cast<double>(grey.size(0));
  // grid_sampler's normalised coordinates (align_corners false): -1 and 1 are the outer edges.
  const auto xs = (box[0] + (at::arange(w, options.dtype(at::kDouble)) + 0.5) * (box[2] - box[0]) /
                                static_cast<double>(w)) *
                      (2.0 / gw) -
                  1.0;
  const auto ys = (box[1] + (at::arange(h, options.dtype(at::kDouble)) + 0.5) * (box[3] - box[1]) /
                                static_cast<double>(h)) *
                      (2.0 / gh) -
                  1.0;
  const auto grid = at::stack({xs.view({1, w}).expand({h, w}), ys.view({h, 1}).expand({h, w})}, 2)
                        .to(at::kFloat)
                        .unsqueeze(0);
  const auto input = grey.to(at::kFloat).unsqueeze(0).unsqueeze(0);
  return at::grid_sampler(input, grid, /*bilinear*/ 0, /*border*/ 1, /*align_corners=*/false)
      .squeeze(0)
      .squeeze(0);
}

}  // namespace

std::vector<MassRef> mass_bank(const std::vector<data::Sample>& samples) {
  std::vector<MassRef> bank;
  for (size_t s = 0; s < samples.size(); ++s) {
    if (!samples[s].boxes.defined()) continue;
    const int64_t rows = samples[s].boxes.reshape({-1, 4}).size(0);
    for (int64_t r = 0; r < rows; ++r) bank.push_back({s, r});
  }
  return bank;
}

at::Tensor paste_alpha(int64_t h, int64_t w) {
  const auto opts = at::TensorOptions().dtype(at::kFloat);
  const auto dx = ((at::arange(w, opts) + 0.5) / static_cast<double>(w) - 0.5) * 2.0;
  const auto dy = ((at::arange(h, opts) + 0.5) / static_cast<double>(h) - 0.5) * 2.0;
  const auto r = (dx.view({1, w}).pow(2) + dy.view({h, 1}).pow(2)).sqrt();
  constexpr double kInner = 0.75;
  const auto ramp = 0.5 * (1.0 + at::cos((r - kInner) * (M_PI / (1.0 - kInner))));
  return at::where(r <= kInner, at::ones_like(r), at::where(r >= 1.0, at::zeros_like(r), ramp));
}

PastedMasses paste_masses(const GreyView& target, const at::Tensor& own_boxes,
                          const std::vector<data::Sample>& samples,
                          const std::vector<MassRef>& bank,
                          const std::function<GreyView(size_t)>& load,
                          const PasteRequest& request) {
  PastedMasses out;
  out.grey = target.grey;
  std::vector<at::Tensor> boxes;
  std::vector<int64_t> labels;
  const auto& meta = target.meta;
  const int64_t height = target.grey.size(0), width = target.grey.size(1);
  std::vector<Box> occupied;
  if (own_boxes.defined() && own_boxes.numel() > 0)
    occupied = box_rows(model::boxes_to_input(own_boxes.reshape({-1, 4}).to(at::kFloat), meta));
  std::mt19937_64 rng(request.seed);
  const int64_t count = bank.empty() ? 0 : 1 + pick(rng, request.max_masses);
  for (int64_t k = 0; k < count; ++k) {
    const MassRef& mass = bank[static_cast<size_t>(pick(rng, static_cast<int64_t>(bank.size())))];
    // The places are drawn before the mass may be skipped, so later masses draw the same
    // either way.
    std::array<std::array<double, 2>, kPlacementTries> places{};
    for (auto& p : places) p = {unit(rng), unit(rng)};
    if (mass.sample == request.own_sample) continue;
    const auto& source_sample = samples[mass.sample];
    const GreyView source = load(mass.sample);
    if (!source.grey.defined()) continue;
    const auto source_box = box_rows(model::boxes_to_input(
        source_sample.boxes.reshape({-1, 4})[mass.row].view({1, 4}).to(at::kFloat),
        source.meta))[0];
    // The same size in original pixels as in the source film.
    const int64_t w =
        std::llround((source_box[2] - source_box[0]) * meta.scale_x / source.meta.scale_x);
    const int64_t h =
        std::llround((source_box[3] - source_box[1]) * meta.scale_y / source.meta.scale_y);
    if (w < 2 || h < 2 || w > width || h > height) continue;
    // A mass at the skin line brings a piece of the dark background with it: left out.
    const auto patch = resample_box(source.grey, source_box, h, w);
    if (tissue_share(patch, request.tissue_grey) < kMinTissueShare) continue;
    for (const auto& [u, v] : places) {
      const int64_t x0 = in_count(u, width - w + 1), y0 = in_count(v, height - h + 1);
      const Box box{static_cast<double>(x0), static_cast<double>(y0), static_cast<double>(x0 + w),
                    static_cast<double>(y0 + h)};
      if (overlaps_any(occupied, box)) continue;
      const auto under = out.grey.slice(0, y0, y0 + h).slice(1, x0, x0 + w);
      if (tissue_share(under, request.tissue_grey) < kMinTissueShare) continue;
      if (out.grey.is_same(target.grey)) out.grey = target.grey.clone();  // the cache's is shared
      auto window = out.grey.slice(0, y0, y0 + h).slice(1, x0, x0 + w);
      const auto alpha = paste_alpha(h, w);
      window.copy_(alpha * patch + (1.0 - alpha) * window);
      occupied.push_back(box);
      boxes.push_back(at::tensor({box[0], box[1], box[2], box[3]}, at::kFloat).view({1, 4}));
      labels.push_back(source_sample.labels.defined()
                           ? source_sample.labels.reshape({-1})[mass.row].item<int64_t>()
                           : 0);
      break;
    }
  }
  if (boxes.empty()) {
    out.boxes = at::zeros({0, 4}, at::kFloat);
    out.labels = at::zeros({0}, at::kLong);
    return out;
  }
  out.boxes = model::boxes_to_original(at::cat(boxes), meta);
  out.labels = at::tensor(labels, at::kLong);
  return out;
}

}  // namespace mbmd::engine
