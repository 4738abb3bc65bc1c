// `mbmd convert <dataset>`: a dataset as distributed to COCO json, and optionally its images as
// 8- or 16-bit grey PNGs, so the same data and splits can be used with mmdetection or torchvision.
#pragma once

#include <string>

#include "mbmd/data/dataset.h"

namespace mbmd::engine {

struct ConvertOptions {
  std::string dataset;        // a name of data::read_dataset ("mias", "inbreast", "bcsdbt")
  data::DatasetOptions read;  // root, classes, skip_bad, reader settings
  std::string out;            // the COCO json to write
  std::string images_out;     // empty: the json points at the files as distributed
  int bits = 0;               // PNG depth 8 or 16; 0: 16 for images deeper than 8 bits, else 8
};

// Reads the dataset, writes the PNGs (when asked) and the json; returns what was written (with
// what was left out or skipped).
data::Dataset convert_dataset(const ConvertOptions& options);

}  // namespace mbmd::engine
