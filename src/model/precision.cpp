#include "mbmd/model/precision.h"

#include <ATen/autocast_mode.h>
#include <c10/core/GradMode.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "mbmd/core/build_info.h"
#include "mbmd/core/error.h"
#include "mbmd/model/layers.h"

namespace mbmd::model {

Precision parse_precision(const std::string& text) {
  if (text == "fp32") return Precision::fp32;
  if (text == "bf16") return Precision::bf16;
  throw Error("config key runtime.precision must be \"fp32\" or \"bf16\", got \"" + text + "\"");
}

std::string to_string(Precision precision) {
  return precision == Precision::bf16 ? "bf16" : "fp32";
}

bool cpu_supports_bf16() {
  if (const char* forced = std::getenv("MBMD_CPU_BF16"); forced && std::string(forced) == "0")
    return false;
  static const bool has_bf16 = [] {
    const auto features = cpu_features();
    return std::find(features.begin(), features.end(), "avx512_bf16") != features.end() ||
           std::find(features.begin(), features.end(), "amx_bf16") != features.end();
  }();
  return has_bf16;
}

Precision usable_precision(Precision requested, at::DeviceType device) {
  if (requested != Precision::bf16 || device != at::kCPU || cpu_supports_bf16()) return requested;
  static std::once_flag warned;
  std::call_once(warned, [] {
    std::fprintf(stderr,
                 "warning: runtime.precision is bf16, but this CPU has no BF16 instructions "
                 "(avx512_bf16 or amx_bf16): running in fp32\n");
  });
  return Precision::fp32;
}

PrecisionScope::PrecisionScope(Precision precision, at::DeviceType device)
    : active_(precision == Precision::bf16), cpu_(device != at::kCUDA) {
  if (!active_) return;
  if (cpu_) {
    was_enabled_ = at::autocast::is_cpu_enabled();
    was_dtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  } else {
    was_enabled_ = at::autocast::is_enabled();
    was_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
  }
  at::autocast::increment_nesting();
}

PrecisionScope::~PrecisionScope() {
  if (!active_) return;
  // The weights' bf16 copies live until the outermost scope ends.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  if (cpu_) {
    at::autocast::set_cpu_enabled(was_enabled_);
    at::autocast::set_autocast_cpu_dtype(was_dtype_);
  } else {
    at::autocast::set_enabled(was_enabled_);
    at::autocast::set_autocast_gpu_dtype(was_dtype_);
  }
}

namespace {

void hold_in_bf16(at::Tensor& parameter) {
  if (parameter.defined()) parameter.set_data(parameter.detach().to(at::kBFloat16));
}

}  // namespace

void hold_inference_weights(torch::nn::Module& model, Precision precision) {
  if (precision != Precision::bf16) return;
  c10::NoGradGuard no_grad;
  for (const auto& module : model.modules()) {
    if (auto conv = std::dynamic_pointer_cast<torch::nn::Conv2dImpl>(module)) {
      auto standardised = std::dynamic_pointer_cast<Conv2dImpl>(module);
      if (standardised && standardised->standardised) {
        conv->weight.set_data(standardised->effective_weight().detach());
        standardised->standardised = false;
      }
      hold_in_bf16(conv->weight);
      hold_in_bf16(conv->bias);
    } else if (auto linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(module)) {
      hold_in_bf16(linear->weight);
      hold_in_bf16(linear->bias);
    }
  }
}

at::Tensor as_fp32(const at::Tensor& t) {
  return t.defined() && t.scalar_type() != at::kFloat && t.is_floating_point() ? t.to(at::kFloat)
                                                                               : t;
}

std::vector<at::Tensor> as_fp32(const std::vector<at::Tensor>& ts) {
  std::vector<at::Tensor> out;
  out.reserve(ts.size());
  for (const auto& t : ts) out.push_back(as_fp32(t));
  return out;
}

}  // namespace mbmd::model
