#include "targets.h"

namespace mbmd::fuzz {

const std::vector<Target>& all_targets() {
  static const std::vector<Target> targets = {
      {"pgm", pgm},
      {"png", png},
      {"dicom", dicom},
      {"inbreast_plist", inbreast_plist},
      {"bcsdbt_csv", bcsdbt_csv},
      {"coco_json", coco_json},
      {"config_json", config_json},
      {"pickle", pickle},
      {"checkpoint", checkpoint},
  };
  return targets;
}

}  // namespace mbmd::fuzz
