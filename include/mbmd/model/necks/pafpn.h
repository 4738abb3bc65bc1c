// mmdetection's PAFPN: FPN plus a bottom-up path.
#pragma once

#include <vector>

#include "mbmd/model/layers.h"
#include "mbmd/model/necks/fpn.h"

namespace mbmd::model {

// FPN's top-down pathway, then a bottom-up path (`downsample_convs`) and `pafpn_convs` on levels
// 1..3, as mmdetection's PAFPN.
class PAFPNImpl : public TopDownNeckImpl {
 public:
  PAFPNImpl(const std::vector<int64_t>& in_channels, int64_t out_channels,
            const NormOptions& norm = {});
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs) override;

 protected:
  // The bottom-up pathway, in place: N[i+1] += downsample_convs.i(N[i]).
  void bottom_up(std::vector<at::Tensor>& levels);

  std::vector<ConvModule> pafpn_convs_;

 private:
  std::vector<ConvModule> downsample_convs_;
};

}  // namespace mbmd::model
