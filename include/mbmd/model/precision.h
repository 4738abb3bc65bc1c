// The precision the detector computes in (config key runtime.precision, docs/config.md):
// fp32, or bf16, where convolutions and linear layers run in bfloat16 (through oneDNN on the CPU,
// channels-last) by autocast while everything else (RoIAlign, box decoding, NMS, scores, losses)
// stays FP32. Training keeps FP32 weights (autocast casts them for each forward pass), so its
// master weights and optimiser state are FP32 and checkpoints load in either precision; a model
// loaded only to infer holds its convolution and linear weights in bf16 (hold_inference_weights).
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace torch::nn {
class Module;
}

namespace mbmd::model {

enum class Precision { fp32, bf16 };

// "fp32" or "bf16"; anything else is an mbmd::Error naming runtime.precision.
Precision parse_precision(const std::string& text);
std::string to_string(Precision precision);

// Whether this CPU has BF16 instructions (AVX512-BF16 or AMX-BF16). MBMD_CPU_BF16=0 in the
// environment says no, to try the fallback on any machine.
bool cpu_supports_bf16();

// The precision to run in: bf16 on a CPU without BF16 falls back to fp32 with a warning on stderr
// (once per process), since a config written on one machine should run on another.
Precision usable_precision(Precision requested, at::DeviceType device);

// While alive, convolutions and linear layers on `device` run in bf16 (on this thread), when
// `precision` is bf16; nothing changes for fp32.
class PrecisionScope {
 public:
  PrecisionScope(Precision precision, at::DeviceType device);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  bool active_ = false;
  bool cpu_ = true;
  bool was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kFloat;
};

// For a model that will only infer, in `precision` (as usable_precision gives it): with bf16, the
// weights and biases of its convolutions and linear layers become bf16 (a standardised
// convolution's weight is standardised first), the very values autocast would cast from FP32 and
// cache beside them. So inference holds half the weight memory and gives the same detections. Norm
// parameters and buffers stay FP32. The model can then neither train nor give an FP32 checkpoint;
// fp32 changes nothing.
void hold_inference_weights(torch::nn::Module& model, Precision precision);

// The tensor(s) in FP32 (no copy when already FP32): where bf16 activations meet the parts that
// stay FP32.
at::Tensor as_fp32(const at::Tensor& t);
std::vector<at::Tensor> as_fp32(const std::vector<at::Tensor>& ts);

}  // namespace mbmd::model
