// A deterministic synthetic mammography set (the `mbmd demo` data, issue 4): breast-shaped tissue
// against a dark background with a low-frequency "fibroglandular" texture and a pectoral corner,
// and masses from small to large and of varied contrast (soft-edged ellipses, some spiculated),
// with some normal films. Two films (left and right MLO) per patient. Written as 8-bit PNGs and a
// COCO json through the data layer, so that training reads it as any other COCO dataset.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "mbmd/data/dataset.h"

namespace mbmd::data {

struct PhantomOptions {
  int patients = 30;  // two films each
  int width = 320;    // film size in pixels (portrait, as mammograms)
  int height = 416;
  double normal_fraction = 0.3;    // films without a mass
  double two_mass_fraction = 0.2;  // films with a mass that get a second one
  double min_radius = 0.025;       // mass radius range as a fraction of the width
  double max_radius = 0.13;        // (log-uniform between the two)
  double min_contrast = 18.0;      // grey levels a mass adds at its core
  double max_contrast = 60.0;
  double spiculated_fraction = 0.3;  // masses with spikes on their border
  uint64_t seed = 0;
};

// Throws mbmd::Error naming the field when an option is out of range.
void check_phantom_options(const PhantomOptions& options);

struct PhantomMass {
  double cx = 0, cy = 0;  // centre in pixels
  double rx = 0, ry = 0;  // semi-axes of the core ellipse
  double angle = 0;       // rotation in radians
  double contrast = 0;    // grey levels added at the core
  bool spiculated = false;
};

struct PhantomFilm {
  std::string laterality;  // "L": chest wall on the left edge; "R": mirrored
  at::Tensor image;        // float32 [H, W], 0..255
  at::Tensor breast_mask;  // bool [H, W]: inside the breast outline
  std::vector<PhantomMass> masses;
  at::Tensor boxes;  // float32 [N, 4] x1 y1 x2 y2: bounding boxes of the masses' core ellipses
};

// Film `index` (0 .. 2 * patients - 1; patient index / 2, left film first). The same options and
// index give the same pixels on every run: the film's own generator is seeded from (seed, index).
PhantomFilm render_phantom_film(const PhantomOptions& options, int index);

// Renders every film into `folder`/images/phantom_NNNN.png and writes `folder`/phantom.json
// (COCO, file names relative to `folder`, patient ids "P0001".., laterality, view "MLO");
// returns the json's path. The dataset written is returned in `dataset` when it is not null.
std::string write_phantom(const PhantomOptions& options, const std::string& folder,
                          data::Dataset* dataset = nullptr);

}  // namespace mbmd::data
