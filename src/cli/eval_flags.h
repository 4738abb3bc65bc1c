// The evaluation flags that `mbmd eval` and `mbmd compare` share (--iou-thrs, --hit, --iou,
// --score-thr, --fppi-cap, --threshold-rule, --exclude-normals), read the same way by both.
#pragma once

#include <string>
#include <vector>

#include "arg_parser.h"
#include "mbmd/core/config.h"

namespace mbmd::cli {

// "0.2,0.5" -> {0.2, 0.5}; mbmd::Error naming --iou-thrs for anything but numbers in [0, 1].
std::vector<double> parse_thresholds(const std::string& text);

// The flags that were given, as keys of the config's `eval` section (eval_options_from_config).
Json eval_flags(const ArgParser& parser);

}  // namespace mbmd::cli
