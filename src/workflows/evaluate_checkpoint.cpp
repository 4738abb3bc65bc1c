#include "mbmd/workflows/evaluate_checkpoint.h"

#include <iostream>

#include "mbmd/core/error.h"
#include "mbmd/inference/predictor.h"
#include "mbmd/pipeline/data_pipeline.h"
#include "mbmd/workflows/cv.h"

namespace mbmd::engine {
namespace {

// The images of a part of the config's dataset, or of a COCO ground-truth file.
std::vector<data::Sample> samples_to_evaluate(const Json& config, const std::string& split) {
  std::vector<data::Sample> samples;
  if (split == "test" || split == "val" || split == "train") {
    const auto parts = split_dataset(config, read_dataset_from_config(config));
    samples = split == "test" ? parts.test : split == "val" ? parts.val : parts.train;
  } else {
    Json coco = config;
    coco["data"]["dataset"] = "coco";
    coco["data"]["ann_file"] = split;
    samples = usable_samples(read_dataset_from_config(coco).samples);
  }
  if (samples.empty()) throw Error("--split " + split + ": no images to evaluate");
  return samples;
}

}  // namespace

SetEvaluation evaluate_checkpoint(const CheckpointEvalOptions& options) {
  auto loaded = load_detector(options.checkpoint, options.config, options.overrides);
  Json config = loaded.config;
  for (const auto& [key, value] : options.eval_keys.items()) config["eval"][key] = value;
  const auto samples = samples_to_evaluate(config, options.split);
  if (options.progress)
    std::cerr << "evaluating " << options.checkpoint << " on " << samples.size() << " images ("
              << options.split << ")\n";
  return evaluate_samples(*loaded.model, config, samples, options.score_thr);
}

}  // namespace mbmd::engine
