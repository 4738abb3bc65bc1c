// SGD with momentum and weight decay over a detector's trainable parameters (mmdetection 2.x:
// every parameter with requires_grad; weight decay on all of them, or scaled for norm parameters
// and biases as mmdetection's paramwise_cfg norm_decay_mult and bias_decay_mult), the momentum
// buffers by parameter name for checkpoints, and gradient clipping by the global norm.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/sgd.h>

#include <memory>

#include "mbmd/core/config.h"
#include "mbmd/io/checkpoint.h"

namespace mbmd::engine {

struct SgdSettings {
  double lr = 0.02;
  double momentum = 0.9;
  double weight_decay = 1e-4;
  double norm_decay_mult = 1.0;  // on the weights and biases of BatchNorm and GroupNorm layers
  double bias_decay_mult = 1.0;  // on the other biases
};

// train.momentum, train.weight_decay, train.norm_decay_mult and train.bias_decay_mult (checked);
// lr is set by the schedule every iteration.
SgdSettings sgd_settings_from_config(const Json& config);

// The optimiser over model.named_parameters() with requires_grad, in that order, in up to three
// parameter groups (other weights, norm parameters, other biases) by their weight decay.
std::unique_ptr<torch::optim::SGD> make_sgd(torch::nn::Module& model, const SgdSettings& settings);

// Sets the rate of every parameter group.
void set_lr(torch::optim::SGD& optimizer, double lr);

// The momentum buffers of the trainable parameters by parameter name (those with a buffer, i.e.
// after at least one step), as CPU tensors.
io::StateDict momentum_buffers(const torch::optim::SGD& optimizer, const torch::nn::Module& model);

// Puts saved buffers back; a name the model lacks, a parameter that is not trainable or a shape
// mismatch is an mbmd::Error naming `origin`.
void restore_momentum_buffers(torch::optim::SGD& optimizer, const torch::nn::Module& model,
                              const io::StateDict& buffers, const std::string& origin);

// Scales the gradients so that their global L2 norm is at most max_norm (torch.nn.utils.
// clip_grad_norm_ with factor max_norm / (norm + 1e-6), applied only when it is below 1).
// Returns the norm before clipping.
double clip_grad_norm(const torch::nn::Module& model, double max_norm);

}  // namespace mbmd::engine
