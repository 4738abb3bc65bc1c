// Running a trained detector: loading it from a checkpoint, streaming images through it (decoding
// on the pipeline's worker threads while the model runs), and turning its detections into a COCO
// results file or an evaluation set for the metrics.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mbmd/core/config.h"
#include "mbmd/eval/types.h"
#include "mbmd/model/detector.h"
#include "mbmd/pipeline/data_pipeline.h"

namespace mbmd::engine {

struct LoadedDetector {
  model::FasterRCNN model{nullptr};
  Json config;  // the config the model was built from
};

// Builds the detector of `config` (or, when none is given, of the config in the checkpoint's
// meta) and loads the checkpoint's weights; an unreadable file, a checkpoint without config and
// none given, or weights that do not fit are mbmd::Error naming the file. The model is in eval
// mode on runtime.device: `config`'s, or the CPU for a checkpoint's own config (it names the
// machine the run trained on). `overrides` ("key=value") are applied to the config before the
// model is built, so that they may change its shape (model.num_classes) as well as test-time
// settings and the device. With runtime.precision bf16 (where the device can run it) the
// convolution and linear weights are held in bf16 (model::hold_inference_weights): the model is
// for inference only.
LoadedDetector load_detector(const std::string& checkpoint_path,
                             const std::optional<Json>& config = std::nullopt,
                             const std::vector<std::string>& overrides = {});

// What the detector found on one image.
struct ImageResult {
  size_t sample = 0;             // position in the pipeline's samples
  model::Detections detections;  // original pixels, CPU
  at::Tensor original;           // decoded pixels (with PipelineOptions::keep_original)
};

// Runs the model (in eval mode, without gradients) over every batch of the pipeline's epoch 0,
// calling `sink` per image in sample order. The pipeline should not shuffle. With a pipeline
// that skips bad samples, `on_failure` hears of each (its position and why); without one, such a
// sample is an mbmd::Error.
using SampleFailure = std::function<void(size_t sample, const std::string& reason)>;
void run_detector(model::FasterRCNNImpl& model, DataPipeline& pipeline,
                  const std::function<void(const ImageResult&)>& sink,
                  const SampleFailure& on_failure = nullptr);

// The detections of every sample, in sample order, through the config's test pipeline (the
// samples must all load); `flip`: on the mirrored images, with boxes mapped back to the originals.
std::vector<model::Detections> detect_samples(model::FasterRCNNImpl& model, const Json& config,
                                              const std::vector<data::Sample>& samples,
                                              bool flip = false);

// A COCO results entry per detection with score >= score_thr: {"image_id": `image_id` (text, or a
// ground truth's integer id), "category_id": label + 1, "bbox": [x, y, w, h] in original pixels,
// "score"}.
Json coco_results(const Json& image_id, const model::Detections& detections,
                  double score_thr = 0.0);

// Ground truth of `samples` (boxes in original pixels, category label + 1) and the detections,
// for mbmd::engine::evaluate. detections[i] belongs to samples[i].
EvalSet make_eval_set(const std::vector<data::Sample>& samples,
                      const std::vector<model::Detections>& detections);

}  // namespace mbmd::engine
