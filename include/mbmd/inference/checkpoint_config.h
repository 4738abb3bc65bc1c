// The config a checkpoint was trained with, which `predict`, `eval` and `train --resume` rebuild
// the model from when no config is given.
#pragma once

#include <string>

#include "mbmd/core/config.h"
#include "mbmd/io/checkpoint.h"

namespace mbmd::engine {

// The resolved config a checkpoint was trained with, merged onto today's defaults (keys added
// since are filled in); mbmd::Error naming `origin` when the checkpoint has none.
Json config_from_checkpoint(const io::Checkpoint& checkpoint, const std::string& origin);

}  // namespace mbmd::engine
