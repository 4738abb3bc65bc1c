#include "mbmd/model/resnet.h"

#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/pooling.h>

#include <array>
#include <mutex>
#include <type_traits>
#include <vector>

#include "mbmd/core/error.h"
#include "mbmd/model/flop_counter.h"
#include "mbmd/model/layers.h"

namespace mbmd::model {

namespace F = torch::nn::functional;

namespace {

Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, const NormOptions& norm) {
  Conv2d c(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
  c->standardised = norm.weight_standardisation;
  return c;
}

// mmcv counts an affine BatchNorm as two operations per input element and a ReLU module as one
// per output element.
at::Tensor batch_norm(torch::nn::BatchNorm2d& bn, const at::Tensor& x) {
  flops::elements(x, 2.0);
  return bn->forward(x);
}

}  // namespace

namespace detail {

// A convolution followed by a BatchNorm that uses its running statistics (eval mode, or norm_eval
// in training) is one affine map: conv(x, w * s) + (beta - mean * s) with s = gamma / sqrt(var +
// eps). Folding it into the convolution saves a full pass over the activations (and, in training,
// the BatchNorm's backward pass). Without gradients the folded weights are kept and recomputed
// only when a parameter or statistic changes (new data pointer or version: loading, optimiser
// steps); with gradients they are folded anew on every call so that autograd sees the fold. The
// module's parameters, buffers and state dict are untouched. The FLOP counter still counts the
// convolution and the BatchNorm, as mmcv counts the unfused modules.
class ConvBN {
 public:
  at::Tensor forward(Conv2d& conv, torch::nn::BatchNorm2d& bn, const at::Tensor& x) {
    // A standardised weight changes on every step and is not folded.
    if (bn->is_training() || conv->standardised) return batch_norm(bn, conv(x));
    at::Tensor weight, bias;
    if (at::GradMode::is_enabled()) {
      std::tie(weight, bias) = fold(conv, bn);
    } else {
      std::lock_guard<std::mutex> lock(mutex_);
      auto key = key_of(conv, bn);
      key[10] = x.suggest_memory_format() == at::MemoryFormat::ChannelsLast ? 1 : 0;
      if (!cached_weight_.defined() || key != key_) {
        // Made as ordinary tensors without history, so that they serve inside and outside
        // InferenceMode (InferenceMode(false) turns gradients on, hence the NoGradGuard).
        c10::InferenceMode normal(false);
        at::NoGradGuard no_grad;
        std::tie(cached_weight_, cached_bias_) = fold(conv, bn);
        // A weight held in bf16 for inference (hold_inference_weights) is folded in FP32 and
        // kept in bf16 too.
        cached_weight_ = cached_weight_.to(conv->weight.scalar_type());
        // oneDNN takes the weights in the input's memory format; keeping them so saves a
        // conversion per call.
        if (key[10] == 1)
          cached_weight_ = cached_weight_.contiguous(at::MemoryFormat::ChannelsLast);
        key_ = key;
      }
      weight = cached_weight_;
      bias = cached_bias_;
    }
    const auto& o = conv->options;
    auto out =
        at::conv2d(x, weight, bias, at::IntArrayRef(*o.stride()), explicit_padding(o.padding()),
                   at::IntArrayRef(*o.dilation()), o.groups());
    flops::conv(conv->weight, /*has_bias=*/false, out);
    flops::elements(out, 2.0);
    return out;
  }

 private:
  using Key = std::array<int64_t, 11>;  // data pointer and version of 5 tensors; layout

  // The padding variant is c10::variant in LibTorch 1.x and std::variant in 2.x: an unqualified
  // visit finds the right one by argument-dependent lookup.
  template <typename Padding>
  static std::vector<int64_t> explicit_padding(const Padding& padding) {
    std::vector<int64_t> values;
    visit(
        [&values](const auto& p) {
          if constexpr (std::is_same_v<std::decay_t<decltype(p)>, torch::ExpandingArray<2>>)
            values.assign(p->begin(), p->end());
          else
            throw Error("ResNet convolutions take explicit padding, not 'valid' or 'same'");
        },
        padding);
    return values;
  }

  static std::pair<at::Tensor, at::Tensor> fold(Conv2d& conv, torch::nn::BatchNorm2d& bn) {
    const auto scale = bn->weight * at::rsqrt(bn->running_var + bn->options.eps());
    auto weight = conv->weight * scale.view({-1, 1, 1, 1});
    auto bias = bn->bias - bn->running_mean * scale;
    if (conv->bias.defined()) bias = bias + conv->bias * scale;
    return {weight, bias};
  }

  static Key key_of(Conv2d& conv, torch::nn::BatchNorm2d& bn) {
    Key key{};
    const at::Tensor* tensors[] = {&conv->weight, &bn->weight, &bn->bias, &bn->running_mean,
                                   &bn->running_var};
    for (size_t i = 0; i < 5; ++i) {
      key[2 * i] = reinterpret_cast<int64_t>(tensors[i]->data_ptr());
      key[2 * i + 1] = static_cast<int64_t>(tensors[i]->_version());
    }
    return key;
  }

  std::mutex mutex_;
  Key key_{};
  at::Tensor cached_weight_, cached_bias_;
};

}  // namespace detail

using detail::ConvBN;

namespace {

// A convolution and its norm: BatchNorm through ConvBN (folded when its statistics are frozen),
// GroupNorm after the convolution.
at::Tensor conv_norm(ConvBN& fused, Conv2d& conv, Norm& norm, const at::Tensor& x) {
  if (norm.bn) return fused.forward(conv, norm.bn, x);
  return norm.forward(conv(x));
}

// Registers `norm` on `owner` under mmdetection's name: bn<postfix> or gn<postfix>.
Norm registered_norm(torch::nn::Module& owner, const NormOptions& options, int64_t channels,
                     const std::string& postfix) {
  Norm norm(options, channels);
  owner.register_module(norm_name(options.kind, postfix), norm.module());
  return norm;
}

// torchvision's BasicBlock (depth 18, 34) and Bottleneck (50, 101), one module type with both
// layouts so the blocks of a stage live in one Sequential under torchvision's names.
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(bool bottleneck, int64_t in, int64_t planes, int64_t stride, const NormOptions& n)
      : bottleneck_(bottleneck) {
    const int64_t expansion = bottleneck ? 4 : 1;
    if (bottleneck) {
      conv1 = register_module("conv1", conv(in, planes, 1, 1, n));
      norm1 = registered_norm(*this, n, planes, "1");
      conv2 = register_module("conv2", conv(planes, planes, 3, stride, n));
      norm2 = registered_norm(*this, n, planes, "2");
      conv3 = register_module("conv3", conv(planes, planes * expansion, 1, 1, n));
      norm3 = registered_norm(*this, n, planes * expansion, "3");
    } else {
      conv1 = register_module("conv1", conv(in, planes, 3, stride, n));
      norm1 = registered_norm(*this, n, planes, "1");
      conv2 = register_module("conv2", conv(planes, planes, 3, 1, n));
      norm2 = registered_norm(*this, n, planes, "2");
    }
    if (stride != 1 || in != planes * expansion) {
      ds_conv = conv(in, planes * expansion, 1, stride, n);
      ds_norm = Norm(n, planes * expansion);
      downsample =
          register_module("downsample", ds_norm.bn ? torch::nn::Sequential(ds_conv, ds_norm.bn)
                                                   : torch::nn::Sequential(ds_conv, ds_norm.gn));
    }
  }

  at::Tensor forward(const at::Tensor& x) {
    auto out = counted_relu(conv_norm(fused1_, conv1, norm1, x));
    out = conv_norm(fused2_, conv2, norm2, out);
    if (bottleneck_) out = conv_norm(fused3_, conv3, norm3, counted_relu(out));
    if (downsample) {
      out += conv_norm(fused_ds_, ds_conv, ds_norm, x);
    } else {
      out += x;
    }
    return counted_relu(out);
  }

 private:
  bool bottleneck_;
  Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  Norm norm1, norm2, norm3;
  torch::nn::Sequential downsample{nullptr};  // registered for its names: downsample.0, .1
  Conv2d ds_conv{nullptr};
  Norm ds_norm;
  ConvBN fused1_, fused2_, fused3_, fused_ds_;
};
TORCH_MODULE(Block);

std::vector<int> blocks_for_depth(int depth) {
  switch (depth) {
    case 18:
      return {2, 2, 2, 2};
    case 34:
      return {3, 4, 6, 3};
    case 50:
      return {3, 4, 6, 3};
    case 101:
      return {3, 4, 23, 3};
    default:
      throw Error("model.backbone.depth: " + std::to_string(depth) +
                  " is not supported (choose 18, 34, 50 or 101)");
  }
}

}  // namespace

ResNetImpl::ResNetImpl(const ResNetOptions& options) : options_(options) {
  const auto blocks = blocks_for_depth(options.depth);
  if (options.frozen_stages < -1 || options.frozen_stages > 4)
    throw Error("model.backbone.frozen_stages: " + std::to_string(options.frozen_stages) +
                " is out of range (-1..4)");
  bottleneck_ = options.depth >= 50;
  const int64_t expansion = bottleneck_ ? 4 : 1;
  conv1 = register_module("conv1", conv(3, 64, 7, 2, options.norm));
  norm1_ = registered_norm(*this, options.norm, 64, "1");
  stem_fused_ = std::make_shared<detail::ConvBN>();
  int64_t in = 64;
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t planes = 64LL << stage;
    torch::nn::Sequential layer;
    for (int b = 0; b < blocks[stage]; ++b) {
      const int64_t stride = (b == 0 && stage > 0) ? 2 : 1;
      layer->push_back(Block(bottleneck_, in, planes, stride, options.norm));
      in = planes * expansion;
    }
    layers_.push_back(register_module("layer" + std::to_string(stage + 1), layer));
  }
  // Kaiming normal (fan_out) for convolutions and unit norms, as torchvision initialises.
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* c = module->as<Conv2dImpl>()) {
      torch::NoGradGuard guard;
      torch::nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
    }
  }
  freeze_stages();
}

void ResNetImpl::freeze_stages() {
  if (options_.frozen_stages >= 0) {
    conv1->weight.set_requires_grad(false);
    for (auto& p : norm1_.module()->parameters()) p.set_requires_grad(false);
  }
  for (int stage = 1; stage <= options_.frozen_stages; ++stage)
    for (auto& p : layers_[stage - 1]->parameters()) p.set_requires_grad(false);
}

void ResNetImpl::train(bool on) {
  torch::nn::Module::train(on);
  if (!on) return;
  if (options_.frozen_stages >= 0) norm1_.module()->eval();
  for (int stage = 1; stage <= options_.frozen_stages; ++stage) layers_[stage - 1]->eval();
  if (options_.norm_eval) {
    for (auto& module : modules(/*include_self=*/false))
      if (module->as<torch::nn::BatchNorm2dImpl>()) module->eval();
  }
}

std::vector<int64_t> ResNetImpl::out_channels() const {
  const int64_t e = bottleneck_ ? 4 : 1;
  return {64 * e, 128 * e, 256 * e, 512 * e};
}

std::vector<at::Tensor> ResNetImpl::forward(const at::Tensor& x) {
  // Channels-last (NHWC) on the CPU, in inference and training: oneDNN's convolutions and their
  // backward passes work on it without reordering every activation into their blocked layout and
  // back; the outputs (and the neck's and heads' maps computed from them) stay channels-last, and
  // ops::roi_align reads them in place. Equal to NCHW up to rounding
  // (Resnet.ChannelsLastEqualsNchwInInferenceAndTraining).
  const bool channels_last = options_.channels_last && x.is_cpu();
  auto out =
      counted_relu(conv_norm(*stem_fused_, conv1, norm1_,
                             channels_last ? x.contiguous(at::MemoryFormat::ChannelsLast) : x));
  flops::elements(out);  // the max-pool module
  out = F::max_pool2d(out, F::MaxPool2dFuncOptions(3).stride(2).padding(1));
  std::vector<at::Tensor> features;
  for (auto& layer : layers_) {
    out = layer->forward(out);
    features.push_back(out);
  }
  return features;
}

}  // namespace mbmd::model
