#include "mbmd/model/build.h"

#include "mbmd/core/error.h"
#include "mbmd/model/weights.h"

namespace mbmd::model {

FasterRCNN build_detector(const Json& config, std::ostream* log) {
  const auto options = detector_options_from_config(config);
  FasterRCNN detector(options);
  if (!options.pretrained.empty()) {
    const auto report = load_weights(*detector, io::load_state_dict(options.pretrained),
                                     "model.backbone.pretrained " + options.pretrained);
    std::vector<std::string> backbone_missing;
    for (const auto& name : report.missing)
      if (name.rfind("backbone.", 0) == 0) backbone_missing.push_back(name);
    if (!backbone_missing.empty())
      throw Error("model.backbone.pretrained " + options.pretrained + ": " +
                  std::to_string(backbone_missing.size()) +
                  " backbone tensors are missing (first: " + backbone_missing.front() +
                  "); is it a ResNet-" + std::to_string(options.backbone.depth) + " file?");
    if (log)
      *log << "loaded " << report.loaded.size() << " tensors from " << options.pretrained << " ("
           << report.format << " names, " << report.unexpected.size() << " unused)\n";
  }
  return detector;
}

}  // namespace mbmd::model
