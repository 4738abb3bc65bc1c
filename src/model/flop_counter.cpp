#include "mbmd/model/flop_counter.h"

namespace mbmd::model {

namespace {
thread_local FlopCountScope* active_scope = nullptr;
}  // namespace

FlopCountScope::FlopCountScope() : previous_(active_scope) { active_scope = this; }

FlopCountScope::~FlopCountScope() {
  if (previous_) previous_->add(flops_);
  active_scope = previous_;
}

namespace flops {

bool counting() { return active_scope != nullptr; }

void add(double count) {
  if (active_scope) active_scope->add(count);
}

void conv(const at::Tensor& weight, bool has_bias, const at::Tensor& output) {
  if (!counting()) return;
  // Per output position: kh * kw * (in / groups) * out; positions = batch * out_h * out_w.
  const double positions = static_cast<double>(output.size(0) * output.size(2) * output.size(3));
  const double per_position = static_cast<double>(weight.numel());
  add(per_position * positions + (has_bias ? static_cast<double>(weight.size(0)) * positions : 0));
}

void linear(const at::Tensor& input, const at::Tensor& output, bool has_bias) {
  if (!counting()) return;
  const double out_features = static_cast<double>(output.size(-1));
  add(static_cast<double>(input.numel()) * out_features + (has_bias ? out_features : 0));
}

void elements(const at::Tensor& t, double per_element) {
  if (!counting()) return;
  add(static_cast<double>(t.numel()) * per_element);
}

}  // namespace flops
}  // namespace mbmd::model
