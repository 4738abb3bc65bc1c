// ResNet backbone with torchvision's parameter names (conv1, bn1, layer1.0.conv1, ...,
// layerN.0.downsample.{0,1}), so ImageNet weights load by name. Style "pytorch": the stride sits in
// the 3x3 convolution of a bottleneck. `frozen_stages` and `norm_eval` as in mmdetection 2.x.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include <memory>
#include <vector>

#include "mbmd/model/layers.h"

namespace mbmd::model {

namespace detail {
class ConvBN;  // a convolution with its frozen BatchNorm folded in (resnet.cpp)
}  // namespace detail

struct ResNetOptions {
  int depth = 50;         // 18, 34, 50 or 101
  int frozen_stages = 1;  // -1: nothing frozen; 0: the stem; k: the stem and layer1..k
  bool norm_eval = true;  // BatchNorm stays in eval mode (running statistics frozen) in training
  bool channels_last = true;  // on the CPU, run in NHWC layout (faster with oneDNN; same results)
  // BatchNorm (bn1, layer1.0.bn1, ...) or GroupNorm (gn1, layer1.0.gn1, ... as mmdetection's GN
  // configs name them), optionally with Weight Standardisation of every convolution.
  NormOptions norm{NormKind::batch};
};

class ResNetImpl : public torch::nn::Module {
 public:
  explicit ResNetImpl(const ResNetOptions& options);

  // C2..C5 (strides 4, 8, 16, 32).
  std::vector<at::Tensor> forward(const at::Tensor& x);

  // Channels of C2..C5: 256..2048 for bottleneck depths, 64..512 for 18 and 34.
  std::vector<int64_t> out_channels() const;

  // Keeps frozen stages and (with norm_eval) every BatchNorm in eval mode; GroupNorm has no
  // running statistics to freeze.
  void train(bool on = true) override;

 private:
  void freeze_stages();

  ResNetOptions options_;
  bool bottleneck_ = true;
  Conv2d conv1{nullptr};
  Norm norm1_;
  std::vector<torch::nn::Sequential> layers_;
  std::shared_ptr<detail::ConvBN> stem_fused_;
};
TORCH_MODULE(ResNet);

}  // namespace mbmd::model
