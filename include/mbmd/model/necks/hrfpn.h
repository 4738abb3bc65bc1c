// mmdetection's HRFPN, here on ResNet features.
#pragma once

#include <vector>

#include "mbmd/model/layers.h"
#include "mbmd/model/neck.h"

namespace mbmd::model {

// Concatenate all levels upsampled to C2, one 1x1 reduction, average pooling to five sizes, one
// 3x3 conv each.
class HRFPNImpl : public NeckImpl {
 public:
  HRFPNImpl(const std::vector<int64_t>& in_channels, int64_t out_channels,
            const NormOptions& norm = {});
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs) override;

 private:
  ConvModule reduction_conv{nullptr};
  std::vector<ConvModule> fpn_convs_;
};

}  // namespace mbmd::model
