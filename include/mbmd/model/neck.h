// The feature-pyramid necks (design notes, section 2). Each takes ResNet C2..C5 and returns five
// maps of `out_channels` at strides 4, 8, 16, 32, 64; parameter names follow mmdetection 2.x.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <memory>
#include <string>
#include <vector>

#include "mbmd/model/layers.h"

namespace mbmd::model {

class NeckImpl : public torch::nn::Module {
 public:
  virtual std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs) = 0;
};

// mmdetection FPN (num_outs 5, no extra convs): laterals, nearest top-down, 3x3 outputs, and a
// fifth level by max_pool2d(kernel 1, stride 2).
class FPNImpl : public NeckImpl {
 public:
  FPNImpl(const std::vector<int64_t>& in_channels, int64_t out_channels);
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs) override;

 protected:
  // Laterals with the top-down pathway added, then fpn_convs: N0..N3.
  std::vector<at::Tensor> top_down(const std::vector<at::Tensor>& inputs);
  // PAFPN's bottom-up pathway, in place: N[i+1] += downsample_convs.i(N[i]).
  void bottom_up(std::vector<at::Tensor>& levels);

  std::vector<ConvModule> lateral_convs_, fpn_convs_, downsample_convs_, pafpn_convs_;
  torch::nn::ModuleList lateral_list_, fpn_list_;
};

// mmdetection PAFPN: FPN plus a bottom-up path and pafpn_convs on levels 1..3.
class PAFPNImpl : public FPNImpl {
 public:
  PAFPNImpl(const std::vector<int64_t>& in_channels, int64_t out_channels);
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs) override;
};

// mmdetection HRFPN on ResNet features: concatenate all levels upsampled to C2, one 1x1 reduction,
// average pooling to five sizes, one 3x3 conv each.
class HRFPNImpl : public NeckImpl {
 public:
  HRFPNImpl(const std::vector<int64_t>& in_channels, int64_t out_channels);
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs) override;

 private:
  ConvModule reduction_conv{nullptr};
  std::vector<ConvModule> fpn_convs_;
};

// The paper's multi-head FPN (Eqs. 1-2): PAFPN's paths, then two aggregation heads (levels 0+1 and
// 2+3) through one shared 1x1 reduction, pooled and convolved into the four outputs.
class MHFPNImpl : public PAFPNImpl {
 public:
  MHFPNImpl(const std::vector<int64_t>& in_channels, int64_t out_channels);
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs) override;

  // One aggregation head (Eq. 1): reduction_conv(cat(fine, nearest-upsampled coarse)). The
  // concatenating form is the reference the split form is tested against.
  at::Tensor aggregate(const at::Tensor& fine, const at::Tensor& coarse);
  at::Tensor aggregate_by_concatenation(const at::Tensor& fine, const at::Tensor& coarse);

 private:
  ConvModule reduction_conv{nullptr};
};

// Builds the neck named by model.neck.type: fpn, pafpn, hrfpn or mhfpn.
std::shared_ptr<NeckImpl> make_neck(const std::string& type,
                                    const std::vector<int64_t>& in_channels, int64_t out_channels);

}  // namespace mbmd::model
