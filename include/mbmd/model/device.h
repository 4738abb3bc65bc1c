// The device a detector runs on (config key runtime.device, docs/config.md): "cpu", or "cuda" /
// "cuda:N" where this LibTorch has CUDA and a device.
#pragma once

#include <ATen/ATen.h>

#include "mbmd/core/config.h"

namespace mbmd::model {

// runtime.device of `config`; another name, or CUDA where LibTorch has none, is an mbmd::Error
// naming the key.
at::Device device_from_config(const Json& config);

}  // namespace mbmd::model
