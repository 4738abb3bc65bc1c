// mmdetection's FPN, and its lateral and top-down pathway that PAFPN and MHFPN build on.
#pragma once

#include <torch/nn/modules/container/modulelist.h>

#include <vector>

#include "mbmd/model/layers.h"
#include "mbmd/model/neck.h"

namespace mbmd::model {

// FPN's lateral 1x1 convs (`lateral_convs`), nearest top-down pathway and 3x3 output convs
// (`fpn_convs`), registered first under mmdetection's names.
class TopDownNeckImpl : public NeckImpl {
 protected:
  TopDownNeckImpl(const std::vector<int64_t>& in_channels, int64_t out_channels,
                  const NormOptions& norm = {});

  // Laterals with the top-down pathway added, then fpn_convs: N0..N3.
  std::vector<at::Tensor> top_down(const std::vector<at::Tensor>& inputs);
  // Appends the fifth level, max_pool2d(kernel 1, stride 2) of the last one (mmdetection's
  // num_outs 5 without extra convs).
  static void add_pooled_level(std::vector<at::Tensor>& levels);

 private:
  std::vector<ConvModule> lateral_convs_, fpn_convs_;
};

// mmdetection FPN (num_outs 5, no extra convs): laterals, nearest top-down, 3x3 outputs, and a
// fifth level by max_pool2d(kernel 1, stride 2).
class FPNImpl : public TopDownNeckImpl {
 public:
  FPNImpl(const std::vector<int64_t>& in_channels, int64_t out_channels,
          const NormOptions& norm = {});
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs) override;
};

}  // namespace mbmd::model
