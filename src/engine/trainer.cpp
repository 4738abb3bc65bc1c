#include "mbmd/engine/trainer.h"

#include <ATen/Context.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "mbmd/core/error.h"
#include "mbmd/data/image_io.h"
#include "mbmd/engine/checkpointing.h"
#include "mbmd/engine/data_pipeline.h"
#include "mbmd/engine/distributed.h"
#include "mbmd/engine/metrics/evaluate.h"
#include "mbmd/engine/optimizer.h"
#include "mbmd/engine/predictor.h"
#include "mbmd/engine/schedule.h"
#include "mbmd/model/build.h"
#include "mbmd/model/detector.h"
#include "mbmd/model/weights.h"

namespace mbmd::engine {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string duration_text(double seconds) {
  const auto s = static_cast<int64_t>(std::max(0.0, seconds) + 0.5);
  char text[32];
  std::snprintf(text, sizeof text, "%d:%02d:%02d", static_cast<int>(s / 3600),
                static_cast<int>(s / 60 % 60), static_cast<int>(s % 60));
  return text;
}

// Stream of the global generator for iteration `iter` (apart from the data order streams).
constexpr uint64_t kIterationStreams = uint64_t{1} << 40;

// IoU threshold of "apNN", or -1 for the other metrics.
double metric_iou(const std::string& name) {
  if (name.size() > 2 && name.compare(0, 2, "ap") == 0) {
    const std::string digits = name.substr(2);
    if (digits.find_first_not_of("0123456789") == std::string::npos && digits.size() <= 3)
      return std::stod(digits) / 100.0;
  }
  return -1.0;
}

double metric_value(const std::string& name, const EvalResult& result) {
  const double iou = metric_iou(name);
  if (iou >= 0)
    for (const auto& [thr, ap] : result.ap)
      if (std::abs(thr - iou) < 1e-9) return ap;
  if (name == "cpm") return result.cpm;
  if (name == "tpr") return result.operating_point.tpr;
  throw Error("validation did not compute the metric '" + name + "'");
}

// The run's log: one JSON object per line, flushed as written.
class JsonLog {
 public:
  JsonLog(const std::string& path, bool append)
      : out_(path, append ? std::ios::app : std::ios::trunc) {
    if (!out_) throw Error(path + ": cannot be written");
  }
  void write(const Json& entry) {
    out_ << entry.dump() << "\n";
    out_.flush();
  }

 private:
  std::ofstream out_;
};

// On resume the log keeps what the checkpoint covers: steps and validations of completed epochs.
void trim_log(const std::string& path, int64_t epochs_done) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const Json entry = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (entry.is_discarded() || !entry.is_object()) continue;
    if (entry.value("epoch", int64_t{0}) <= epochs_done) kept += line + "\n";
  }
  in.close();
  data::write_file_atomic(path, kept);
}

at::Device device_from_config(const Json& config) {
  const std::string name = config_at(config, "runtime.device").get<std::string>();
  if (name == "cpu") return at::Device(at::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    if (!at::hasCUDA())
      throw Error("config key 'runtime.device' is \"" + name +
                  "\" but this build of LibTorch has no CUDA device available");
    return at::Device(name);
  }
  throw Error("config key 'runtime.device' must be \"cpu\" or \"cuda[:N]\", got \"" + name + "\"");
}

// Differences between the config a run was started with and the one it is resumed with,
// ignoring the keys that may change between the two (threads, loaders, device).
std::vector<std::string> config_changes(const Json& before, const Json& now) {
  std::vector<std::string> changes;
  for (const auto& op : Json::diff(before, now)) {
    const std::string path = op.value("path", "");
    if (path.rfind("/runtime", 0) == 0 || path == "/data/workers" || path == "/data/cache")
      continue;
    changes.push_back(path);
  }
  return changes;
}

void load_all_weights(torch::nn::Module& model, const io::StateDict& state_dict,
                      const std::string& origin) {
  const auto report = model::load_weights(model, state_dict, origin);
  if (!report.missing.empty())
    throw Error(origin + ": the checkpoint lacks " + std::to_string(report.missing.size()) +
                " tensors of the model, e.g. " + report.missing.front());
}

struct Validation {
  bool ran = false;
  double value = 0.0;
  Json metrics;
};

}  // namespace

void check_best_metric(const std::string& name) {
  if (metric_iou(name) >= 0 || name == "cpm" || name == "tpr") return;
  throw Error(
      "config key 'train.best_metric' must be \"apNN\" (e.g. \"ap50\"), \"cpm\" or "
      "\"tpr\", got \"" +
      name + "\"");
}

TrainResult train(const Json& config, const TrainOptions& options) {
  if (options.work_dir.empty()) throw Error("training needs a work dir");
  if (!(options.dist_timeout_s > 0))
    throw Error("the distributed timeout must be > 0 seconds, got " +
                std::to_string(options.dist_timeout_s));
  // Membership of a data-parallel run (one process alone without torchrun's variables).
  DistributedOptions dist_options;
  dist_options.timeout =
      std::chrono::milliseconds(static_cast<int64_t>(std::ceil(options.dist_timeout_s * 1000.0)));
  DistributedContext dist(DistributedEnv::from_environment(), dist_options);
  const bool main_rank = dist.is_main();  // rank 0 alone writes, prints and validates
  const bool progress = options.progress && main_rank;

  // ---- Checks: nothing is written until all of them pass (on every rank). ----
  const fs::path work_dir(options.work_dir);
  if (fs::exists(work_dir) && !fs::is_directory(work_dir))
    throw Error("work dir " + options.work_dir + " is a file, not a folder");
  const std::string last_path = (work_dir / "last.ckpt").string();
  const std::string best_path = (work_dir / "best.ckpt").string();
  const std::string log_path = (work_dir / "log.jsonl").string();

  io::Checkpoint resume_from;
  TrainState state;
  if (options.resume) {
    if (!fs::exists(last_path))
      throw Error("cannot resume: " + last_path +
                  " does not exist (start the run without --resume)");
    resume_from = io::load_checkpoint(last_path);
    state = train_state_from_meta(resume_from.meta, last_path);
    if (!resume_from.sections.count("optimizer"))
      throw Error(last_path + ": the checkpoint has no optimizer section to resume from");
  } else if (fs::exists(last_path)) {
    throw Error("work dir " + options.work_dir +
                " already holds a training run (last.ckpt): continue it with --resume or choose "
                "another --work-dir");
  }

  const Json& t = config_at(config, "train");
  const ScheduleOptions schedule_options = schedule_options_from_config(config);
  const SgdSettings sgd = sgd_settings_from_config(config);
  const double grad_clip = t.at("grad_clip").get<double>();
  const int64_t val_interval = t.at("val_interval").get<int64_t>();
  const int64_t log_interval = std::max<int64_t>(1, t.at("log_interval").get<int64_t>());
  const std::string best_metric = t.at("best_metric").get<std::string>();
  const uint64_t seed = t.at("seed").get<uint64_t>();
  const int64_t epochs = schedule_options.epochs;
  check_best_metric(best_metric);
  if (val_interval < 0)
    throw Error("config key 'train.val_interval' must be >= 0 (0: no validation), got " +
                std::to_string(val_interval));
  if (options.resume && state.epoch > epochs)
    throw Error(last_path + ": the run has " + std::to_string(state.epoch) +
                " epochs done, more than train.epochs = " + std::to_string(epochs));
  const at::Device device = device_from_config(config);
  EvalOptions eval_options = eval_options_from_config(config_at(config, "eval"));
  if (const double iou = metric_iou(best_metric); iou >= 0) {
    bool listed = false;
    for (double thr : eval_options.iou_thrs) listed |= std::abs(thr - iou) < 1e-9;
    if (!listed) eval_options.iou_thrs.push_back(iou);
  }

  const data::Dataset dataset = read_dataset_from_config(config);
  DataParts parts = split_dataset(config, dataset);
  if (parts.train.empty())
    throw Error("the training set is empty: data.dataset \"" +
                config_at(config, "data.dataset").get<std::string>() + "\" gave " +
                std::to_string(dataset.samples.size()) + " images, none of them in training (" +
                "data.split \"" + config_at(config, "data.split").get<std::string>() + "\")");

  // The initial weights come from the seed (and the ImageNet backbone, when named); a resumed run
  // takes them from its checkpoint.
  at::manual_seed(seed);
  model::FasterRCNN detector = options.resume
                                   ? model::FasterRCNN(model::detector_options_from_config(config))
                                   : model::build_detector(config, progress ? &std::cerr : nullptr);
  if (options.resume) load_all_weights(*detector, resume_from.state_dict, last_path);
  detector->to(device);
  auto optimizer = make_sgd(*detector, sgd);
  // libtorch's zero_grad() keeps gradients defined (as zeros) once a backward pass made them, and
  // SGD skips parameters without one; defining them from the start makes a fresh and a resumed
  // process treat a parameter that a step leaves untouched alike.
  for (auto& p : detector->parameters())
    if (p.requires_grad() && !p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
  if (options.resume)
    restore_momentum_buffers(*optimizer, *detector, resume_from.sections.at("optimizer"),
                             last_path);
  // Every replica starts from rank 0's weights and buffers (a resumed run's are equal anyway).
  if (dist.distributed()) {
    std::vector<at::Tensor> tensors = detector->parameters();
    for (const auto& b : detector->buffers()) tensors.push_back(b);
    dist.broadcast(tensors);
  }
  GradientReducer reducer(dist, detector->parameters());

  PipelineOptions train_options = pipeline_options_from_config(config, /*train=*/true);
  train_options.shard_rank = dist.rank();
  train_options.shard_world = dist.world_size();
  DataPipeline train_data(parts.train, train_options);
  const int64_t iters_per_epoch = train_data.num_batches();
  if (options.resume && state.iters_per_epoch != iters_per_epoch)
    throw Error(last_path + ": the run had " + std::to_string(state.iters_per_epoch) +
                " iterations per epoch, the training set now gives " +
                std::to_string(iters_per_epoch) +
                " (data, train.batch_size or the number of processes changed)");
  if (options.resume && main_rank) {
    const auto changes = config_changes(resume_from.meta.value("config", Json::object()), config);
    if (!changes.empty()) {
      std::cerr << "warning: resuming with a config that differs from the run's in";
      for (const auto& c : changes) std::cerr << " " << c;
      std::cerr << "\n";
    }
  }
  const LrSchedule schedule(schedule_options, iters_per_epoch);
  std::unique_ptr<DataPipeline> val_data;
  if (main_rank && val_interval > 0 && !parts.val.empty())
    val_data = std::make_unique<DataPipeline>(
        parts.val, pipeline_options_from_config(config, /*train=*/false));

  // ---- The run. ----
  std::unique_ptr<JsonLog> log;
  if (main_rank) {
    fs::create_directories(work_dir);
    data::write_file_atomic((work_dir / "config.json").string(), config.dump(2) + "\n");
    if (options.resume) trim_log(log_path, state.epoch);
    log = std::make_unique<JsonLog>(log_path, options.resume);
  }
  if (!options.resume) {
    state.best_metric = best_metric;
    state.iters_per_epoch = iters_per_epoch;
  }

  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto run_start = Clock::now();
  const int64_t total_iters = epochs * iters_per_epoch;
  const int64_t first_iter = state.iter;
  TrainResult result;
  result.rank = dist.rank();
  result.world_size = dist.world_size();
  result.last_checkpoint = last_path;
  if (fs::exists(best_path)) result.best_checkpoint = best_path;

  auto validate = [&](int64_t epoch_done) {
    Validation v;
    if (!val_data) return v;
    std::vector<model::Detections> detections(val_data->samples().size());
    run_detector(*detector, *val_data,
                 [&](const ImageResult& r) { detections[r.sample] = r.detections; });
    const EvalResult er = evaluate(make_eval_set(val_data->samples(), detections), eval_options);
    v.ran = true;
    v.metrics = to_json(er);
    v.value = metric_value(best_metric, er);
    log->write({{"type", "val"},
                {"epoch", epoch_done},
                {"iter", epoch_done * iters_per_epoch},
                {"metric", best_metric},
                {"value", v.value},
                {"images", val_data->samples().size()},
                {"metrics", v.metrics},
                {"elapsed", seconds_since(run_start)}});
    return v;
  };

  for (int64_t epoch = state.epoch; epoch < epochs; ++epoch) {
    detector->train();
    train_data.start_epoch(epoch);
    LoadedBatch loaded;
    std::map<std::string, double> sums;
    int64_t in_interval = 0;
    auto interval_start = Clock::now();
    while (train_data.next(loaded)) {
      const int64_t iter = state.iter;  // 0-based global iteration
      const double lr = schedule.lr(iter);
      set_lr(*optimizer, lr);
      at::manual_seed(derive_seed(seed, kIterationStreams + static_cast<uint64_t>(iter)));
      auto& batch = loaded.batch;
      batch.images = batch.images.to(device);
      for (auto& b : batch.gt_boxes) b = b.to(device);
      for (auto& l : batch.gt_labels) l = l.to(device);
      const auto losses = detector->forward_train(batch);
      at::Tensor loss;
      for (const auto& [name, value] : losses) loss = loss.defined() ? loss + value : value;
      // The loss parts and their sum, averaged over the ranks (identity alone): the log shows
      // the combined batch's values, and a NaN on any rank stops every rank on this iteration.
      std::vector<at::Tensor> part_values;
      for (const auto& [name, value] : losses)
        part_values.push_back(value.detach().to(at::kDouble));
      part_values.push_back(loss.detach().to(at::kDouble));
      at::Tensor reduced = at::stack(part_values);
      dist.all_reduce_mean(reduced);
      reduced = reduced.cpu();
      const auto* reduced_data = reduced.data_ptr<double>();
      std::map<std::string, double> part_value;
      {
        size_t k = 0;
        for (const auto& [name, value] : losses) part_value[name] = reduced_data[k++];
      }
      const double loss_value = reduced_data[losses.size()];
      if (!std::isfinite(loss_value)) {
        std::ostringstream parts_text;
        Json entry{{"type", "error"}, {"epoch", epoch + 1}, {"iter", iter + 1}, {"lr", lr}};
        for (const auto& [name, v] : part_value) {
          parts_text << " " << name << "=" << v;
          entry[name] = std::isfinite(v) ? Json(v) : Json(std::to_string(v));
        }
        entry["message"] = "non-finite loss";
        if (log) log->write(entry);
        if (tty && progress) std::cerr << "\n";
        throw Error("training stopped: the loss is " + std::to_string(loss_value) + " at epoch " +
                    std::to_string(epoch + 1) + ", iteration " + std::to_string(iter + 1) +
                    " (lr " + std::to_string(lr) + ";" + parts_text.str() +
                    "); lower train.lr or set train.grad_clip. " +
                    (state.epoch > 0 ? last_path + " keeps epoch " + std::to_string(state.epoch)
                                     : std::string("no checkpoint was written")));
      }
      optimizer->zero_grad();
      loss.backward();
      reducer.finish();  // averaged gradients on every rank, so the clipped norm agrees
      double grad_norm = -1.0;
      if (grad_clip > 0) grad_norm = clip_grad_norm(*detector, grad_clip);
      optimizer->step();
      ++state.iter;
      state.lr = lr;

      sums["loss"] += loss_value;
      for (const auto& [name, v] : part_value) sums[name] += v;
      if (grad_norm >= 0) sums["grad_norm"] += grad_norm;
      ++in_interval;
      const bool epoch_end = loaded.index + 1 == iters_per_epoch;
      if (main_rank && (state.iter % log_interval == 0 || epoch_end)) {
        const double interval_time = seconds_since(interval_start) / in_interval;
        Json entry{{"type", "train"}, {"epoch", epoch + 1}, {"iter", state.iter}, {"lr", lr}};
        for (const auto& [name, sum] : sums) entry[name] = sum / in_interval;
        entry["time"] = interval_time;
        entry["elapsed"] = seconds_since(run_start);
        log->write(entry);
        if (progress) {
          const double rate = (state.iter - first_iter) / std::max(1e-9, seconds_since(run_start));
          const double eta = (total_iters - state.iter) / std::max(1e-9, rate);
          char line[256];
          std::snprintf(line, sizeof line,
                        "epoch %lld/%lld iter %lld/%lld  loss %.4f  lr %.3g  %.2f it/s  ETA %s",
                        static_cast<long long>(epoch + 1), static_cast<long long>(epochs),
                        static_cast<long long>(loaded.index + 1),
                        static_cast<long long>(iters_per_epoch), sums["loss"] / in_interval, lr,
                        rate, duration_text(eta).c_str());
          std::cerr << (tty ? "\r" : "") << line << (tty ? "\033[K" : "\n") << std::flush;
        }
        sums.clear();
        in_interval = 0;
        interval_start = Clock::now();
      }
    }
    state.epoch = epoch + 1;
    if (tty && progress) std::cerr << "\n";

    const bool last_epoch = state.epoch == epochs;
    Validation v;
    if (main_rank && val_interval > 0 && (state.epoch % val_interval == 0 || last_epoch))
      v = validate(state.epoch);
    const bool better = v.ran && (state.best_epoch == 0 || v.value > state.best_value);
    if (better) {
      state.best_value = v.value;
      state.best_epoch = state.epoch;
    }
    if (main_rank) {
      save_training_checkpoint(last_path, *detector, optimizer.get(), state, config);
      if (better) {
        save_training_checkpoint(best_path, *detector, nullptr, state, config);
        result.best_checkpoint = best_path;
      }
    }
    // No rank starts the next epoch (or ends the run) before rank 0 has written the checkpoint.
    dist.barrier();
    if (progress && v.ran)
      std::cerr << "epoch " << state.epoch << ": val " << best_metric << " " << v.value
                << (better ? " (best)" : "") << "\n";
    if (options.stop_after_epoch > 0 && state.epoch >= options.stop_after_epoch) break;
  }

  result.epochs_done = state.epoch;
  result.iters_done = state.iter;
  result.best_metric = state.best_metric;
  result.best_value = state.best_value;
  result.best_epoch = state.best_epoch;
  return result;
}

}  // namespace mbmd::engine
