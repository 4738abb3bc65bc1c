// The paper's multi-head FPN (Eqs. 1-2).
#pragma once

#include <vector>

#include "mbmd/model/layers.h"
#include "mbmd/model/necks/pafpn.h"

namespace mbmd::model {

// PAFPN's paths, then two aggregation heads (levels 0+1 and 2+3) through one shared 1x1
// reduction, pooled and convolved into the four outputs.
class MHFPNImpl : public PAFPNImpl {
 public:
  MHFPNImpl(const std::vector<int64_t>& in_channels, int64_t out_channels,
            const NormOptions& norm = {});
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs) override;

  // One aggregation head (Eq. 1): reduction_conv(cat(fine, nearest-upsampled coarse)). The
  // concatenating form is the reference the split form is tested against.
  at::Tensor aggregate(const at::Tensor& fine, const at::Tensor& coarse);
  at::Tensor aggregate_by_concatenation(const at::Tensor& fine, const at::Tensor& coarse);

 private:
  ConvModule reduction_conv{nullptr};
};

}  // namespace mbmd::model
