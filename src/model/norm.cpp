#include "mbmd/model/norm.h"

#include "mbmd/core/error.h"
#include "mbmd/model/flop_counter.h"

namespace mbmd::model {

NormKind parse_norm_kind(const std::string& value, const std::string& key, bool allow_none) {
  if (value == "bn") return NormKind::batch;
  if (value == "gn") return NormKind::group;
  if (value == "none" && allow_none) return NormKind::none;
  throw Error("config key '" + key + "': unknown norm '" + value + "' (choose " +
              (allow_none ? "none, bn or gn" : "bn or gn") + ")");
}

std::string norm_name(NormKind kind, const std::string& postfix) {
  return (kind == NormKind::group ? "gn" : "bn") + postfix;
}

Norm::Norm(const NormOptions& options, int64_t channels) {
  switch (options.kind) {
    case NormKind::batch:
      bn = torch::nn::BatchNorm2d(channels);
      break;
    case NormKind::group:
      if (options.groups < 1 || channels % options.groups != 0)
        throw Error("model.norm_groups: " + std::to_string(options.groups) +
                    " groups do not divide a layer of " + std::to_string(channels) + " channels");
      gn = torch::nn::GroupNorm(torch::nn::GroupNormOptions(options.groups, channels));
      break;
    case NormKind::none:
      break;
  }
}

at::Tensor Norm::forward(const at::Tensor& x) {
  flops::elements(x, 2.0);
  if (bn) return bn->forward(x);
  // Under BF16 autocast a convolution hands over bfloat16, which LibTorch's GroupNorm kernel does
  // not take beside FP32 parameters: the statistics are computed in FP32, as autocast keeps
  // normalisation (docs/performance.md, "BF16").
  if (x.scalar_type() != gn->weight.scalar_type())
    return gn->forward(x.to(gn->weight.scalar_type()));
  return gn->forward(x);
}

std::shared_ptr<torch::nn::Module> Norm::module() const {
  if (bn) return bn.ptr();
  return gn.ptr();
}

at::Tensor standardise_weight(const at::Tensor& weight) {
  const auto flat = weight.flatten(1);
  const auto mean = flat.mean(1, /*keepdim=*/true);
  const auto std = flat.std(1, /*unbiased=*/true, /*keepdim=*/true);
  return ((flat - mean) / (std + 1e-5)).view_as(weight);
}

}  // namespace mbmd::model
