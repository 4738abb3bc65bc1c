#include "mbmd/inference/checkpoint_config.h"

#include "mbmd/core/error.h"

namespace mbmd::engine {

Json config_from_checkpoint(const io::Checkpoint& checkpoint, const std::string& origin) {
  if (!checkpoint.meta.is_object() || !checkpoint.meta.contains("config") ||
      !checkpoint.meta["config"].is_object())
    throw Error(origin + ": the checkpoint holds no config (give one with --config)");
  Json config = default_config();
  merge_config(config, checkpoint.meta["config"], origin + " (config in its meta)");
  return config;
}

}  // namespace mbmd::engine
