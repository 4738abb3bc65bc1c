// One sample type for every dataset (issue 8): what a reader knows about an image, and its pixels.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace mbmd::data {

struct Sample {
  std::string image_id;    // unique within a dataset, e.g. "mdb001"
  std::string file;        // path of the image file (PNG, PGM or DICOM)
  std::string patient_id;  // films of one woman share it; splits never separate them
  std::string laterality;  // "L", "R" or "" when unknown
  std::string view;        // "CC", "MLO", "ML" or "" when unknown
  int width = 0;           // original size in pixels
  int height = 0;
  int bit_depth = 8;  // bits per stored pixel value
  int frame = -1;     // slice of a multi-frame volume, -1 for 2D images
  // How the slice `frame` is shown: "" with the file's own LUTs and window; a dataset's name
  // ("bcsdbt") as that dataset's reference reader shows it (the slice loader of its entry in the
  // dataset table), because that is the frame its boxes are drawn in. Unused without a frame.
  std::string slice_display;
  at::Tensor boxes;   // float32 [N, 4], x1 y1 x2 y2 in original pixel coordinates
  at::Tensor labels;  // int64 [N], 0-based foreground class index
  // A lesion is known to be present but not where: left out of training and evaluation,
  // never counted as a normal image.
  bool lesion_without_location = false;
  // Pixels, once decoded: float32 [H, W] grey values after the modality and VOI LUTs (or window),
  // scaled to 0..255 without rounding; undefined until loaded.
  at::Tensor image;
};

}  // namespace mbmd::data
