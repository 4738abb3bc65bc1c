#include "mbmd/model/resnet.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/pooling.h>

#include "mbmd/core/error.h"
#include "mbmd/model/flop_counter.h"
#include "mbmd/model/layers.h"

namespace mbmd::model {

namespace F = torch::nn::functional;

namespace {

Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

torch::nn::BatchNorm2d norm(int64_t channels) { return torch::nn::BatchNorm2d(channels); }

// mmcv counts an affine BatchNorm as two operations per input element and a ReLU module as one
// per output element.
at::Tensor batch_norm(torch::nn::BatchNorm2d& bn, const at::Tensor& x) {
  flops::elements(x, 2.0);
  return bn->forward(x);
}

at::Tensor counted_relu(const at::Tensor& x) {
  auto out = F::relu(x, F::ReLUFuncOptions().inplace(true));
  flops::elements(out);
  return out;
}

// torchvision's BasicBlock (depth 18, 34) and Bottleneck (50, 101), one module type with both
// layouts so the blocks of a stage live in one Sequential under torchvision's names.
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(bool bottleneck, int64_t in, int64_t planes, int64_t stride) : bottleneck_(bottleneck) {
    const int64_t expansion = bottleneck ? 4 : 1;
    if (bottleneck) {
      conv1 = register_module("conv1", conv(in, planes, 1, 1));
      bn1 = register_module("bn1", norm(planes));
      conv2 = register_module("conv2", conv(planes, planes, 3, stride));
      bn2 = register_module("bn2", norm(planes));
      conv3 = register_module("conv3", conv(planes, planes * expansion, 1, 1));
      bn3 = register_module("bn3", norm(planes * expansion));
    } else {
      conv1 = register_module("conv1", conv(in, planes, 3, stride));
      bn1 = register_module("bn1", norm(planes));
      conv2 = register_module("conv2", conv(planes, planes, 3, 1));
      bn2 = register_module("bn2", norm(planes));
    }
    if (stride != 1 || in != planes * expansion) {
      ds_conv = conv(in, planes * expansion, 1, stride);
      ds_bn = norm(planes * expansion);
      downsample = register_module("downsample", torch::nn::Sequential(ds_conv, ds_bn));
    }
  }

  at::Tensor forward(const at::Tensor& x) {
    auto out = counted_relu(batch_norm(bn1, conv1(x)));
    out = batch_norm(bn2, conv2(out));
    if (bottleneck_) out = batch_norm(bn3, conv3(counted_relu(out)));
    if (downsample) {
      out += batch_norm(ds_bn, ds_conv(x));
    } else {
      out += x;
    }
    return counted_relu(out);
  }

 private:
  bool bottleneck_;
  Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};  // registered for its names: downsample.0, .1
  Conv2d ds_conv{nullptr};
  torch::nn::BatchNorm2d ds_bn{nullptr};
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
  conv1 = register_module(
      "conv1", Conv2d(torch::nn::Conv2dOptions(3, 64, 7).stride(2).padding(3).bias(false)));
  bn1 = register_module("bn1", norm(64));
  int64_t in = 64;
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t planes = 64LL << stage;
    torch::nn::Sequential layer;
    for (int b = 0; b < blocks[stage]; ++b) {
      const int64_t stride = (b == 0 && stage > 0) ? 2 : 1;
      layer->push_back(Block(bottleneck_, in, planes, stride));
      in = planes * expansion;
    }
    layers_.push_back(register_module("layer" + std::to_string(stage + 1), layer));
  }
  // Kaiming normal (fan_out) for convolutions and unit BatchNorm, as torchvision initialises.
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
    for (auto& p : bn1->parameters()) p.set_requires_grad(false);
  }
  for (int stage = 1; stage <= options_.frozen_stages; ++stage)
    for (auto& p : layers_[stage - 1]->parameters()) p.set_requires_grad(false);
}

void ResNetImpl::train(bool on) {
  torch::nn::Module::train(on);
  if (!on) return;
  if (options_.frozen_stages >= 0) bn1->eval();
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
  auto out = counted_relu(batch_norm(bn1, conv1(x)));
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
