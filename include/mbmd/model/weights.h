// Loading weights into a detector by name: the project's own checkpoints, mmdetection 2.x
// detector checkpoints (same names), torchvision detector state dicts (names translated) and
// torchvision ImageNet ResNet files (into the backbone; fc.* ignored).
#pragma once

#include <torch/nn/module.h>

#include <string>
#include <vector>

#include "mbmd/io/checkpoint.h"

namespace mbmd::model {

struct LoadReport {
  std::string format;                   // "mbmd", "torchvision", "resnet"
  std::vector<std::string> loaded;      // model names that received a tensor
  std::vector<std::string> missing;     // model names the file lacks
  std::vector<std::string> unexpected;  // file names the model lacks
  std::vector<std::string> mismatched;  // model names whose tensor has another shape (skipped)
};

// Recognises the naming scheme of `state_dict`, translates names to the model's and copies every
// tensor. A shape mismatch is an mbmd::Error naming the tensor, both shapes and `origin`, unless
// `skip_mismatched` (fine-tuning to another number of classes, as mmdetection's load_from): then
// the tensor is left as initialised and listed in LoadReport::mismatched. BatchNorm's
// num_batches_tracked is neither missing nor unexpected.
LoadReport load_weights(torch::nn::Module& model, const io::StateDict& state_dict,
                        const std::string& origin, bool skip_mismatched = false);

// The detector's parameters and buffers under its own (mmdetection) names.
io::StateDict model_state_dict(const torch::nn::Module& model);

// torchvision detector name -> mmdetection name ("" when the name has no counterpart).
std::string torchvision_to_mmdet_name(const std::string& name);

}  // namespace mbmd::model
