// Normalisation layers and Weight Standardisation for training without ImageNet weights
// (docs/training.md, "Training from scratch"): each part of the detector (backbone, neck, box
// head) chooses BatchNorm or GroupNorm, registered under mmdetection's names (`bn1`/`gn1` in the
// backbone, `bn`/`gn` in a ConvModule), so that mmdetection's GN checkpoints load by name.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/normalization.h>

#include <memory>
#include <string>

namespace mbmd::model {

enum class NormKind { none, batch, group };

struct NormOptions {
  NormKind kind = NormKind::none;
  int64_t groups = 32;                  // GroupNorm's groups (Wu & He 2018)
  bool weight_standardisation = false;  // of the convolutions followed by this norm
};

// "none", "bn" or "gn"; anything else (or "none" where a norm is required) is an mbmd::Error
// naming `key`.
NormKind parse_norm_kind(const std::string& value, const std::string& key, bool allow_none);

// The module name mmdetection gives a norm: "bn" or "gn" followed by `postfix` ("1", "" ...).
std::string norm_name(NormKind kind, const std::string& postfix);

// A BatchNorm2d or a GroupNorm of `channels` (the one not chosen stays null). GroupNorm needs
// channels divisible by the groups: otherwise an mbmd::Error.
struct Norm {
  Norm() = default;
  Norm(const NormOptions& options, int64_t channels);

  // Normalises x, counting two operations per element as mmcv counts an affine norm.
  at::Tensor forward(const at::Tensor& x);
  std::shared_ptr<torch::nn::Module> module() const;
  explicit operator bool() const { return bn || gn; }

  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::GroupNorm gn{nullptr};
};

// Weight Standardisation (Qiao et al. 2019) as mmcv's ConvWS2d computes it: each output filter
// minus its mean, divided by its unbiased standard deviation plus 1e-5.
at::Tensor standardise_weight(const at::Tensor& weight);

}  // namespace mbmd::model
