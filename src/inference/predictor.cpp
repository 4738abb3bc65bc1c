#include "mbmd/inference/predictor.h"

#include <c10/core/GradMode.h>

#include "mbmd/core/error.h"
#include "mbmd/inference/checkpoint_config.h"
#include "mbmd/model/device.h"
#include "mbmd/model/precision.h"
#include "mbmd/model/weights.h"

namespace mbmd::engine {

LoadedDetector load_detector(const std::string& path, const std::optional<Json>& config,
                             const std::vector<std::string>& overrides) {
  const io::Checkpoint ckpt = io::load_checkpoint(path);
  LoadedDetector out;
  out.config = config ? *config : config_from_checkpoint(ckpt, path);
  // The device a run trained on says nothing about the machine that reads its checkpoint: a
  // GPU-trained model predicts on the CPU unless a config or override names runtime.device.
  if (!config) out.config["runtime"]["device"] = default_config()["runtime"]["device"];
  apply_overrides(out.config, overrides);
  out.model = model::FasterRCNN(model::detector_options_from_config(out.config));
  const auto report = model::load_weights(*out.model, ckpt.state_dict, path);
  if (!report.missing.empty()) {
    std::string names;
    for (size_t i = 0; i < report.missing.size() && i < 3; ++i)
      names += (i ? ", " : "") + report.missing[i];
    throw Error(path + ": the checkpoint lacks " + std::to_string(report.missing.size()) +
                " tensors of the model (" + names + (report.missing.size() > 3 ? ", ..." : "") +
                "); was it trained with another config?");
  }
  const at::Device device = model::device_from_config(out.config);
  out.model->to(device);
  out.model->eval();
  // Loaded to infer only: a bf16 run keeps its weights in bf16, not in FP32 and bf16 both.
  model::hold_inference_weights(
      *out.model, model::usable_precision(out.model->options().precision, device.type()));
  return out;
}

void run_detector(model::FasterRCNNImpl& model, DataPipeline& pipeline,
                  const std::function<void(const ImageResult&)>& sink,
                  const SampleFailure& on_failure) {
  const bool was_training = model.is_training();
  model.eval();
  c10::NoGradGuard no_grad;
  const auto params = model.parameters();
  const at::Device device = params.empty() ? at::Device(at::kCPU) : params[0].device();
  // One scope over the whole run: autocast keeps the weights' bf16 copies until it ends, so they
  // are cast once, not once per batch.
  model::PrecisionScope precision(model::usable_precision(model.options().precision, device.type()),
                                  device.type());
  pipeline.start_epoch(0);
  LoadedBatch loaded;
  try {
    while (pipeline.next(loaded)) {
      for (const auto& [sample, reason] : loaded.failed) {
        if (!on_failure) throw Error(reason);
        on_failure(sample, reason);
      }
      if (!loaded.batch.images.defined()) continue;  // every image of the batch failed
      loaded.batch.images = loaded.batch.images.to(device);
      const auto detections = model.forward_test(loaded.batch);
      for (size_t i = 0; i < detections.size(); ++i) {
        ImageResult result;
        result.sample = loaded.samples[i];
        result.detections.boxes = detections[i].boxes.to(at::kCPU);
        result.detections.scores = detections[i].scores.to(at::kCPU);
        result.detections.labels = detections[i].labels.to(at::kCPU);
        if (i < loaded.originals.size()) result.original = loaded.originals[i];
        sink(result);
      }
    }
  } catch (...) {
    model.train(was_training);
    throw;
  }
  model.train(was_training);
}

std::vector<model::Detections> detect_samples(model::FasterRCNNImpl& model, const Json& config,
                                              const std::vector<data::Sample>& samples, bool flip) {
  PipelineOptions options = pipeline_options_from_config(config, /*train=*/false);
  options.flip_all = flip;
  DataPipeline pipeline(samples, options);
  std::vector<model::Detections> out(samples.size());
  run_detector(model, pipeline, [&](const ImageResult& r) { out[r.sample] = r.detections; });
  return out;
}

Json coco_results(const Json& image_id, const model::Detections& d, double score_thr) {
  Json out = Json::array();
  if (!d.boxes.defined() || d.boxes.numel() == 0) return out;
  const auto boxes = d.boxes.to(at::kDouble).contiguous();
  const auto scores = d.scores.to(at::kDouble).contiguous();
  const auto labels = d.labels.to(at::kLong).contiguous();
  const auto b = boxes.accessor<double, 2>();
  const auto s = scores.accessor<double, 1>();
  const auto l = labels.accessor<int64_t, 1>();
  for (int64_t i = 0; i < boxes.size(0); ++i) {
    if (s[i] < score_thr) continue;
    out.push_back({{"image_id", image_id},
                   {"category_id", l[i] + 1},
                   {"bbox", {b[i][0], b[i][1], b[i][2] - b[i][0], b[i][3] - b[i][1]}},
                   {"score", s[i]}});
  }
  return out;
}

EvalSet make_eval_set(const std::vector<data::Sample>& samples,
                      const std::vector<model::Detections>& detections) {
  if (samples.size() != detections.size())
    throw Error("make_eval_set: " + std::to_string(samples.size()) + " samples but " +
                std::to_string(detections.size()) + " detection lists");
  EvalSet set;
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto& sample = samples[i];
    set.image_ids.push_back(sample.image_id);
    set.patient_ids.push_back(sample.patient_id);
    if (sample.boxes.defined() && sample.boxes.numel() > 0) {
      const auto boxes = sample.boxes.to(at::kDouble).reshape({-1, 4}).contiguous();
      const auto labels = sample.labels.defined() ? sample.labels.to(at::kLong).contiguous()
                                                  : at::zeros({boxes.size(0)}, at::kLong);
      for (int64_t k = 0; k < boxes.size(0); ++k) {
        GroundTruth gt;
        gt.image_id = sample.image_id;
        gt.box = {boxes[k][0].item<double>(), boxes[k][1].item<double>(),
                  boxes[k][2].item<double>(), boxes[k][3].item<double>()};
        gt.category = labels[k].item<int64_t>() + 1;
        set.ground_truths.push_back(gt);
      }
    }
    const auto& d = detections[i];
    if (!d.boxes.defined() || d.boxes.numel() == 0) continue;
    const auto boxes = d.boxes.to(at::kDouble).contiguous();
    const auto scores = d.scores.to(at::kDouble).contiguous();
    const auto labels = d.labels.to(at::kLong).contiguous();
    for (int64_t k = 0; k < boxes.size(0); ++k) {
      Detection det;
      det.image_id = sample.image_id;
      det.box = {boxes[k][0].item<double>(), boxes[k][1].item<double>(), boxes[k][2].item<double>(),
                 boxes[k][3].item<double>()};
      det.score = scores[k].item<double>();
      det.category = labels[k].item<int64_t>() + 1;
      set.detections.push_back(det);
    }
  }
  return set;
}

}  // namespace mbmd::engine
