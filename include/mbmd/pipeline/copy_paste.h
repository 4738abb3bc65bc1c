// Copy-paste augmentation (augment.copy_paste_prob, docs/training.md, "Augmentation"): masses of
// other films of the training part pasted into a training image at their own physical size, on
// tissue and away from its masses, with a soft elliptical edge; each pasted mass becomes a
// ground-truth box exactly where its pixels were put.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "mbmd/data/dataset.h"
#include "mbmd/model/input_transform.h"

namespace mbmd::engine {

// One ground-truth box of the training part that may be pasted: a sample's position in the
// pipeline's list and the box's row.
struct MassRef {
  size_t sample = 0;
  int64_t row = 0;
};
std::vector<MassRef> mass_bank(const std::vector<data::Sample>& samples);

// A resized grey image (0..255, [h, w]) and the meta that maps original pixels onto it.
struct GreyView {
  at::Tensor grey;
  model::ImageMeta meta;
};

struct PasteRequest {
  uint64_t seed = 0;       // the image's draw (AugmentDraw::paste_seed)
  int64_t max_masses = 1;  // 1..max_masses masses are tried
  // A mass is pasted when at least 90% of its own box and of the place it goes to are brighter
  // than this: tissue, not background.
  double tissue_grey = 20;
  size_t own_sample = 0;  // never pasted into itself
};

struct PastedMasses {
  at::Tensor grey;    // the image with the masses pasted (the input itself when none was)
  at::Tensor boxes;   // [P, 4] float, original pixels of the target image
  at::Tensor labels;  // [P] long
};

// Pastes masses of `bank` (boxes and labels from `samples`, pixels from `load`, the sample's
// image at its default size, or no grey when it cannot be loaded) into `target`, whose ground truth
// is `own_boxes` ([G, 4] original pixels). Everything drawn comes from `request.seed`.
PastedMasses paste_masses(const GreyView& target, const at::Tensor& own_boxes,
                          const std::vector<data::Sample>& samples,
                          const std::vector<MassRef>& bank,
                          const std::function<GreyView(size_t)>& load, const PasteRequest& request);

// The weight of a pasted patch of h x w pixels: 1 inside the ellipse at 3/4 of the box's half
// sides, falling as a raised cosine to 0 at the inscribed ellipse and outside it.
at::Tensor paste_alpha(int64_t h, int64_t w);

}  // namespace mbmd::engine
