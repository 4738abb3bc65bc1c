// Builds the detector a config describes, loading the ImageNet backbone named by
// model.backbone.pretrained when set.
#pragma once

#include <ostream>

#include "mbmd/core/config.h"
#include "mbmd/model/detector.h"

namespace mbmd::model {

// `log`, when given, receives one line on what the pretrained file provided.
FasterRCNN build_detector(const Json& config, std::ostream* log = nullptr);

}  // namespace mbmd::model
