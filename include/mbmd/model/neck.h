// The feature-pyramid necks (docs/design.md, "Necks"). Each takes ResNet C2..C5 and returns five
// maps of `out_channels` at strides 4, 8, 16, 32, 64; parameter names follow mmdetection 2.x.
// The necks themselves are declared in mbmd/model/necks/ and built by name in
// src/model/necks/registry.cpp.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mbmd/model/norm.h"

namespace mbmd::model {

class NeckImpl : public torch::nn::Module {
 public:
  virtual std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs) = 0;
};

// Builds the neck named by model.neck.type: fpn, pafpn, hrfpn or mhfpn. `norm` (model.neck.norm)
// goes after every convolution of the neck, as mmdetection's norm_cfg does.
std::shared_ptr<NeckImpl> make_neck(const std::string& type,
                                    const std::vector<int64_t>& in_channels, int64_t out_channels,
                                    const NormOptions& norm = {});

}  // namespace mbmd::model
