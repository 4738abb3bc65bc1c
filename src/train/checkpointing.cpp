#include "mbmd/train/checkpointing.h"

#include "mbmd/core/error.h"
#include "mbmd/train/optimizer.h"
#include "mbmd/model/weights.h"

namespace mbmd::engine {
namespace {

template <typename T>
T meta_get(const Json& meta, const std::string& key, const std::string& origin) {
  const Json* node = &meta;
  std::string walked;
  for (size_t start = 0;;) {
    const size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!node->is_object() || !node->contains(part))
      throw Error(origin + ": checkpoint meta lacks '" + key + "' (not a training checkpoint?)");
    node = &(*node)[part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  try {
    return node->get<T>();
  } catch (const Json::exception&) {
    throw Error(origin + ": checkpoint meta entry '" + key +
                "' has the wrong kind: " + node->dump());
  }
}

}  // namespace

Json train_state_to_meta(const TrainState& s, const Json& config) {
  return Json{
      {"format", "mbmd-train"},
      {"version", 1},
      {"epoch", s.epoch},
      {"iter", s.iter},
      {"iters_per_epoch", s.iters_per_epoch},
      {"best", {{"metric", s.best_metric}, {"value", s.best_value}, {"epoch", s.best_epoch}}},
      {"lr", s.lr},
      {"config", config}};
}

TrainState train_state_from_meta(const Json& meta, const std::string& origin) {
  if (!meta.is_object() || meta.value("format", "") != "mbmd-train")
    throw Error(origin +
                ": not a training checkpoint of mbmd (its meta has no format "
                "\"mbmd-train\")");
  TrainState s;
  s.epoch = meta_get<int64_t>(meta, "epoch", origin);
  s.iter = meta_get<int64_t>(meta, "iter", origin);
  s.iters_per_epoch = meta_get<int64_t>(meta, "iters_per_epoch", origin);
  s.best_metric = meta_get<std::string>(meta, "best.metric", origin);
  s.best_value = meta_get<double>(meta, "best.value", origin);
  s.best_epoch = meta_get<int64_t>(meta, "best.epoch", origin);
  s.lr = meta_get<double>(meta, "lr", origin);
  if (s.epoch < 0 || s.iter < 0 || s.iters_per_epoch < 0)
    throw Error(origin + ": checkpoint meta has negative progress counts");
  return s;
}

void save_training_checkpoint(const std::string& path, const torch::nn::Module& model,
                              const torch::optim::SGD* optimizer, const TrainState& state,
                              const Json& config) {
  io::Checkpoint ckpt;
  ckpt.state_dict = model::model_state_dict(model);
  if (optimizer) ckpt.sections["optimizer"] = momentum_buffers(*optimizer, model);
  ckpt.meta = train_state_to_meta(state, config);
  io::save_checkpoint(path, ckpt);
}

}  // namespace mbmd::engine
