#include "mbmd/model/device.h"

#include "mbmd/core/error.h"

namespace mbmd::model {

at::Device device_from_config(const Json& config) {
  const std::string name = config_at(config, "runtime.device").get<std::string>();
  if (name == "cpu") return at::Device(at::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    if (!at::hasCUDA())
      throw Error("config key 'runtime.device' is \"" + name +
                  "\" but this build of LibTorch has no CUDA device available");
    return at::Device(name);
  }
  throw Error("config key 'runtime.device' must be \"cpu\" or \"cuda[:N]\", got \"" + name + "\"");
}

}  // namespace mbmd::model
