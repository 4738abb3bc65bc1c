#include "mbmd/train/trainer.h"

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

#include "mbmd/core/atomic_file.h"
#include "mbmd/core/error.h"
#include "mbmd/core/seed.h"
#include "mbmd/dist/distributed.h"
#include "mbmd/eval/evaluate.h"
#include "mbmd/eval/metric_names.h"
#include "mbmd/inference/predictor.h"
#include "mbmd/model/build.h"
#include "mbmd/model/detector.h"
#include "mbmd/model/device.h"
#include "mbmd/model/weights.h"
#include "mbmd/pipeline/data_pipeline.h"
#include "mbmd/train/anchor_coverage_log.h"
#include "mbmd/train/checkpointing.h"
#include "mbmd/train/optimizer.h"
#include "mbmd/train/schedule.h"

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
  write_file_atomic(path, kept);
}

// Differences between the config a run was started with and the one it is resumed with, as
// "key BEFORE -> AFTER", leaving out the run's environment (is_run_environment_key).
std::vector<std::string> config_changes(const Json& before, const Json& now) {
  std::vector<std::string> changes;
  for (const auto& d : config_differences(before, now)) {
    if (is_run_environment_key(d.key)) continue;
    changes.push_back(d.key + " " + d.before + " -> " + d.after);
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

// train.load_from: a detector checkpoint (mbmd, mmdetection or torchvision) whose weights start
// the run (fine-tuning). Tensors of another shape, such as the class-dependent box predictor of a
// model with another number of classes, keep their fresh initialisation and are named.
void load_initial_weights(torch::nn::Module& detector, const Json& config, bool progress) {
  const std::string path = config_at(config, "train.load_from").get<std::string>();
  if (path.empty()) return;
  const std::string origin = "train.load_from " + path;
  const auto report = model::load_weights(detector, io::load_state_dict(path), origin,
                                          /*skip_mismatched=*/true);
  if (report.loaded.empty())
    throw Error(origin + ": no tensor of the file fits the model (is it a detector checkpoint?)");
  if (!progress) return;
  std::cerr << "loaded " << report.loaded.size() << " tensors from " << path << " ("
            << report.format << ")";
  if (!report.mismatched.empty()) {
    std::cerr << "; kept fresh (another shape):";
    for (const auto& name : report.mismatched) std::cerr << " " << name;
  }
  if (!report.missing.empty()) std::cerr << "; " << report.missing.size() << " not in the file";
  std::cerr << "\n";
}

struct Validation {
  bool ran = false;
  double value = 0.0;
  Json metrics;
};

// Where a run writes.
struct RunPaths {
  fs::path work_dir;
  std::string last, best, log;
};

RunPaths run_paths(const std::string& work_dir) {
  if (work_dir.empty()) throw Error("training needs a work dir");
  const fs::path dir(work_dir);
  if (fs::exists(dir) && !fs::is_directory(dir))
    throw Error("work dir " + work_dir + " is a file, not a folder");
  return {dir, (dir / "last.ckpt").string(), (dir / "best.ckpt").string(),
          (dir / "log.jsonl").string()};
}

// The checkpoint and progress a resumed run continues from (a fresh run: none, epoch 0).
struct ResumePoint {
  io::Checkpoint checkpoint;
  TrainState state;
};

ResumePoint resume_point(const RunPaths& paths, bool resume) {
  ResumePoint point;
  if (!resume) {
    if (fs::exists(paths.last))
      throw Error("work dir " + paths.work_dir.string() +
                  " already holds a training run (last.ckpt): continue it with --resume or "
                  "choose another --work-dir");
    return point;
  }
  if (!fs::exists(paths.last))
    throw Error("cannot resume: " + paths.last +
                " does not exist (start the run without --resume)");
  point.checkpoint = io::load_checkpoint(paths.last);
  point.state = train_state_from_meta(point.checkpoint.meta, paths.last);
  if (!point.checkpoint.sections.count("optimizer"))
    throw Error(paths.last + ": the checkpoint has no optimizer section to resume from");
  return point;
}

// The train section's settings, checked before anything is written.
struct TrainSettings {
  ScheduleOptions schedule;
  SgdSettings sgd;
  double grad_clip = 0.0;
  int64_t val_interval = 0;
  int64_t log_interval = 1;
  std::string best_metric;
  uint64_t seed = 0;
  at::Device device{at::kCPU};
  EvalOptions eval;  // the config's, plus the best metric's IoU threshold
};

TrainSettings train_settings_from_config(const Json& config) {
  const Json& t = config_at(config, "train");
  TrainSettings s;
  s.schedule = schedule_options_from_config(config);
  s.sgd = sgd_settings_from_config(config);
  s.grad_clip = t.at("grad_clip").get<double>();
  s.val_interval = t.at("val_interval").get<int64_t>();
  s.log_interval = std::max<int64_t>(1, t.at("log_interval").get<int64_t>());
  s.best_metric = t.at("best_metric").get<std::string>();
  s.seed = t.at("seed").get<uint64_t>();
  check_best_metric(s.best_metric);
  if (s.val_interval < 0)
    throw Error("config key 'train.val_interval' must be >= 0 (0: no validation), got " +
                std::to_string(s.val_interval));
  s.device = model::device_from_config(config);
  s.eval = eval_options_from_config(config_at(config, "eval"));
  if (const double iou = ap_metric_iou(s.best_metric); iou > 0) {
    bool listed = false;
    for (double thr : s.eval.iou_thrs) listed |= std::abs(thr - iou) < 1e-9;
    if (!listed) s.eval.iou_thrs.push_back(iou);
  }
  return s;
}

DataParts training_parts(const Json& config) {
  const data::Dataset dataset = read_dataset_from_config(config);
  DataParts parts = split_dataset(config, dataset);
  if (parts.train.empty())
    throw Error("the training set is empty: data.dataset \"" +
                config_at(config, "data.dataset").get<std::string>() + "\" gave " +
                std::to_string(dataset.samples.size()) + " images, none of them in training (" +
                "data.split \"" + config_at(config, "data.split").get<std::string>() + "\")");
  return parts;
}

// The loss parts of one iteration and their sum, averaged over the ranks.
struct StepLosses {
  std::map<std::string, double> parts;
  double total = 0.0;
};

// One training run: set up by the constructor (every check, then the model, optimiser and
// pipelines), carried out by run(). Rank 0 alone writes, prints and validates.
class TrainingRun {
 public:
  TrainingRun(const Json& config, const TrainOptions& options);
  TrainResult run();

 private:
  void check_resumed_data() const;
  void open_log();
  void run_epoch(int64_t epoch);
  void log_anchor_coverage();
  StepLosses step(model::Batch& batch, int64_t epoch, double lr);
  StepLosses reduce_losses(const std::map<std::string, at::Tensor>& losses, const at::Tensor& sum);
  [[noreturn]] void stop_on_nonfinite(const StepLosses& losses, int64_t epoch, int64_t iter,
                                      double lr);
  void print_progress(int64_t epoch, int64_t batch_index, double loss, double lr) const;
  Validation validate(int64_t epoch_done);
  void finish_epoch();

  const Json& config_;
  const TrainOptions& options_;
  DistributedContext dist_;
  const bool main_rank_;  // rank 0 alone writes, prints and validates
  const bool progress_;
  const bool tty_;
  const RunPaths paths_;
  ResumePoint resume_;
  TrainState& state_;
  const TrainSettings settings_;
  const DataParts parts_;
  model::FasterRCNN detector_{nullptr};
  std::unique_ptr<torch::optim::SGD> optimizer_;
  std::unique_ptr<GradientReducer> reducer_;
  std::unique_ptr<DataPipeline> train_data_;
  std::unique_ptr<DataPipeline> val_data_;
  std::unique_ptr<LrSchedule> schedule_;
  std::unique_ptr<JsonLog> log_;
  int64_t iters_per_epoch_ = 0;
  Clock::time_point run_start_;
  int64_t first_iter_ = 0;
  TrainResult result_;
};

DistributedOptions distributed_options(const TrainOptions& options) {
  if (!(options.dist_timeout_s > 0))
    throw Error("the distributed timeout must be > 0 seconds, got " +
                std::to_string(options.dist_timeout_s));
  DistributedOptions d;
  d.timeout =
      std::chrono::milliseconds(static_cast<int64_t>(std::ceil(options.dist_timeout_s * 1000.0)));
  return d;
}

TrainingRun::TrainingRun(const Json& config, const TrainOptions& options)
    : config_(config),
      options_(options),
      dist_(DistributedEnv::from_environment(), distributed_options(options)),
      main_rank_(dist_.is_main()),
      progress_(options.progress && main_rank_),
      tty_(isatty(STDERR_FILENO) != 0),
      paths_(run_paths(options.work_dir)),
      resume_(resume_point(paths_, options.resume)),
      state_(resume_.state),
      settings_(train_settings_from_config(config)),
      parts_(training_parts(config)) {
  if (options_.resume && state_.epoch > settings_.schedule.epochs)
    throw Error(
        paths_.last + ": the run has " + std::to_string(state_.epoch) +
        " epochs done, more than train.epochs = " + std::to_string(settings_.schedule.epochs));
  // The initial weights come from the seed (and the ImageNet backbone, when named); a resumed run
  // takes them from its checkpoint.
  at::manual_seed(settings_.seed);
  detector_ = options_.resume ? model::FasterRCNN(model::detector_options_from_config(config))
                              : model::build_detector(config, progress_ ? &std::cerr : nullptr);
  if (options_.resume)
    load_all_weights(*detector_, resume_.checkpoint.state_dict, paths_.last);
  else
    load_initial_weights(*detector_, config, progress_);
  detector_->to(settings_.device);
  optimizer_ = make_sgd(*detector_, settings_.sgd);
  // libtorch's zero_grad() keeps gradients defined (as zeros) once a backward pass made them, and
  // SGD skips parameters without one; defining them from the start makes a fresh and a resumed
  // process treat a parameter that a step leaves untouched alike.
  for (auto& p : detector_->parameters())
    if (p.requires_grad() && !p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
  if (options_.resume)
    restore_momentum_buffers(*optimizer_, *detector_, resume_.checkpoint.sections.at("optimizer"),
                             paths_.last);
  // Every replica starts from rank 0's weights and buffers (a resumed run's are equal anyway).
  if (dist_.distributed()) {
    std::vector<at::Tensor> tensors = detector_->parameters();
    for (const auto& b : detector_->buffers()) tensors.push_back(b);
    dist_.broadcast(tensors);
  }
  reducer_ = std::make_unique<GradientReducer>(dist_, detector_->parameters());

  PipelineOptions train_options = pipeline_options_from_config(config, /*train=*/true);
  train_options.shard_rank = dist_.rank();
  train_options.shard_world = dist_.world_size();
  train_data_ = std::make_unique<DataPipeline>(parts_.train, train_options);
  iters_per_epoch_ = train_data_->num_batches();
  check_resumed_data();
  schedule_ = std::make_unique<LrSchedule>(settings_.schedule, iters_per_epoch_);
  if (main_rank_ && settings_.val_interval > 0 && !parts_.val.empty())
    val_data_ = std::make_unique<DataPipeline>(
        parts_.val, pipeline_options_from_config(config, /*train=*/false));
}

void TrainingRun::check_resumed_data() const {
  if (!options_.resume) return;
  if (state_.iters_per_epoch != iters_per_epoch_)
    throw Error(paths_.last + ": the run had " + std::to_string(state_.iters_per_epoch) +
                " iterations per epoch, the training set now gives " +
                std::to_string(iters_per_epoch_) +
                " (data, train.batch_size or the number of processes changed)");
  if (!main_rank_) return;
  const auto changes =
      config_changes(resume_.checkpoint.meta.value("config", Json::object()), config_);
  if (changes.empty()) return;
  std::cerr << "warning: resuming with a config that differs from the run's:";
  for (const auto& c : changes) std::cerr << "\n  " << c;
  std::cerr << "\n";
}

void TrainingRun::open_log() {
  if (!main_rank_) return;
  fs::create_directories(paths_.work_dir);
  write_file_atomic((paths_.work_dir / "config.json").string(), config_.dump(2) + "\n");
  if (options_.resume) trim_log(paths_.log, state_.epoch);
  log_ = std::make_unique<JsonLog>(paths_.log, options_.resume);
}

void TrainingRun::log_anchor_coverage() {
  if (!main_rank_ || options_.resume) return;
  const Json entry = anchor_coverage_entry(config_, parts_.train);
  log_->write(entry);
  if (!progress_ || entry["boxes"] == 0) return;
  char line[200];
  std::snprintf(line, sizeof line,
                "anchor coverage: %lld of %lld training boxes (%.0f%%) have an anchor with IoU >= "
                "%.2f at the input size; median best IoU %.2f\n",
                static_cast<long long>(entry["covered"].get<int64_t>()),
                static_cast<long long>(entry["boxes"].get<int64_t>()),
                100.0 * entry["share"].get<double>(), entry["pos_iou_thr"].get<double>(),
                entry["median_best_iou"].get<double>());
  std::cerr << line;
}

TrainResult TrainingRun::run() {
  open_log();
  log_anchor_coverage();
  if (!options_.resume) {
    state_.best_metric = settings_.best_metric;
    state_.iters_per_epoch = iters_per_epoch_;
  }
  run_start_ = Clock::now();
  first_iter_ = state_.iter;
  result_.rank = dist_.rank();
  result_.world_size = dist_.world_size();
  result_.last_checkpoint = paths_.last;
  if (fs::exists(paths_.best)) result_.best_checkpoint = paths_.best;

  for (int64_t epoch = state_.epoch; epoch < settings_.schedule.epochs; ++epoch) {
    run_epoch(epoch);
    finish_epoch();
    if (options_.stop_after_epoch > 0 && state_.epoch >= options_.stop_after_epoch) break;
  }
  result_.epochs_done = state_.epoch;
  result_.iters_done = state_.iter;
  result_.best_metric = state_.best_metric;
  result_.best_value = state_.best_value;
  result_.best_epoch = state_.best_epoch;
  return result_;
}

void TrainingRun::run_epoch(int64_t epoch) {
  detector_->train();
  train_data_->start_epoch(epoch);
  LoadedBatch loaded;
  std::map<std::string, double> sums;
  int64_t in_interval = 0;
  auto interval_start = Clock::now();
  while (train_data_->next(loaded)) {
    const double lr = schedule_->lr(state_.iter);
    const StepLosses losses = step(loaded.batch, epoch, lr);
    sums["loss"] += losses.total;
    for (const auto& [name, v] : losses.parts) sums[name] += v;
    ++in_interval;
    const bool epoch_end = loaded.index + 1 == iters_per_epoch_;
    if (!main_rank_ || !(state_.iter % settings_.log_interval == 0 || epoch_end)) continue;
    Json entry{{"type", "train"}, {"epoch", epoch + 1}, {"iter", state_.iter}, {"lr", lr}};
    for (const auto& [name, sum] : sums) entry[name] = sum / in_interval;
    entry["time"] = seconds_since(interval_start) / in_interval;
    entry["elapsed"] = seconds_since(run_start_);
    log_->write(entry);
    print_progress(epoch, loaded.index, sums["loss"] / in_interval, lr);
    sums.clear();
    in_interval = 0;
    interval_start = Clock::now();
  }
  state_.epoch = epoch + 1;
  if (tty_ && progress_) std::cerr << "\n";
}

// One SGD iteration on `batch`; the returned losses carry "grad_norm" when gradients are clipped.
StepLosses TrainingRun::step(model::Batch& batch, int64_t epoch, double lr) {
  const int64_t iter = state_.iter;  // 0-based global iteration
  set_lr(*optimizer_, lr);
  at::manual_seed(derive_seed(settings_.seed, kIterationStreams + static_cast<uint64_t>(iter)));
  batch.images = batch.images.to(settings_.device);
  for (auto& b : batch.gt_boxes) b = b.to(settings_.device);
  for (auto& l : batch.gt_labels) l = l.to(settings_.device);
  const auto losses = detector_->forward_train(batch);
  at::Tensor loss;
  for (const auto& [name, value] : losses) loss = loss.defined() ? loss + value : value;
  StepLosses reduced = reduce_losses(losses, loss);
  if (!std::isfinite(reduced.total)) stop_on_nonfinite(reduced, epoch, iter, lr);
  optimizer_->zero_grad();
  loss.backward();
  reducer_->finish();  // averaged gradients on every rank, so the clipped norm agrees
  if (settings_.grad_clip > 0)
    reduced.parts["grad_norm"] = clip_grad_norm(*detector_, settings_.grad_clip);
  optimizer_->step();
  ++state_.iter;
  state_.lr = lr;
  return reduced;
}

// The loss parts and their sum, averaged over the ranks (identity alone): the log shows the
// combined batch's values, and a NaN on any rank stops every rank on the same iteration.
StepLosses TrainingRun::reduce_losses(const std::map<std::string, at::Tensor>& losses,
                                      const at::Tensor& sum) {
  std::vector<at::Tensor> values;
  for (const auto& [name, value] : losses) values.push_back(value.detach().to(at::kDouble));
  values.push_back(sum.detach().to(at::kDouble));
  at::Tensor reduced = at::stack(values);
  dist_.all_reduce_mean(reduced);
  reduced = reduced.cpu();
  const auto* data = reduced.data_ptr<double>();
  StepLosses out;
  size_t k = 0;
  for (const auto& [name, value] : losses) out.parts[name] = data[k++];
  out.total = data[losses.size()];
  return out;
}

void TrainingRun::stop_on_nonfinite(const StepLosses& losses, int64_t epoch, int64_t iter,
                                    double lr) {
  std::ostringstream parts_text;
  Json entry{{"type", "error"}, {"epoch", epoch + 1}, {"iter", iter + 1}, {"lr", lr}};
  for (const auto& [name, v] : losses.parts) {
    parts_text << " " << name << "=" << v;
    entry[name] = std::isfinite(v) ? Json(v) : Json(std::to_string(v));
  }
  entry["message"] = "non-finite loss";
  if (log_) log_->write(entry);
  if (tty_ && progress_) std::cerr << "\n";
  throw Error("training stopped: the loss is " + std::to_string(losses.total) + " at epoch " +
              std::to_string(epoch + 1) + ", iteration " + std::to_string(iter + 1) + " (lr " +
              std::to_string(lr) + ";" + parts_text.str() +
              "); lower train.lr or set train.grad_clip. " +
              (state_.epoch > 0 ? paths_.last + " keeps epoch " + std::to_string(state_.epoch)
                                : std::string("no checkpoint was written")));
}

void TrainingRun::print_progress(int64_t epoch, int64_t batch_index, double loss, double lr) const {
  if (!progress_) return;
  const int64_t total_iters = settings_.schedule.epochs * iters_per_epoch_;
  const double rate = (state_.iter - first_iter_) / std::max(1e-9, seconds_since(run_start_));
  const double eta = (total_iters - state_.iter) / std::max(1e-9, rate);
  char line[256];
  std::snprintf(
      line, sizeof line, "epoch %lld/%lld iter %lld/%lld  loss %.4f  lr %.3g  %.2f it/s  ETA %s",
      static_cast<long long>(epoch + 1), static_cast<long long>(settings_.schedule.epochs),
      static_cast<long long>(batch_index + 1), static_cast<long long>(iters_per_epoch_), loss, lr,
      rate, duration_text(eta).c_str());
  std::cerr << (tty_ ? "\r" : "") << line << (tty_ ? "\033[K" : "\n") << std::flush;
}

Validation TrainingRun::validate(int64_t epoch_done) {
  Validation v;
  if (!val_data_) return v;
  std::vector<model::Detections> detections(val_data_->samples().size());
  run_detector(*detector_, *val_data_,
               [&](const ImageResult& r) { detections[r.sample] = r.detections; });
  const EvalResult er = evaluate(make_eval_set(val_data_->samples(), detections), settings_.eval);
  v.ran = true;
  v.metrics = to_json(er);
  v.value = metric_value(v.metrics, settings_.best_metric);
  log_->write({{"type", "val"},
               {"epoch", epoch_done},
               {"iter", epoch_done * iters_per_epoch_},
               {"metric", settings_.best_metric},
               {"value", v.value},
               {"images", val_data_->samples().size()},
               {"metrics", v.metrics},
               {"elapsed", seconds_since(run_start_)}});
  return v;
}

// Validation when due, then last.ckpt (and best.ckpt when the metric improved) from rank 0.
void TrainingRun::finish_epoch() {
  const bool last_epoch = state_.epoch == settings_.schedule.epochs;
  Validation v;
  if (main_rank_ && settings_.val_interval > 0 &&
      (state_.epoch % settings_.val_interval == 0 || last_epoch))
    v = validate(state_.epoch);
  const bool better = v.ran && (state_.best_epoch == 0 || v.value > state_.best_value);
  if (better) {
    state_.best_value = v.value;
    state_.best_epoch = state_.epoch;
  }
  if (main_rank_) {
    save_training_checkpoint(paths_.last, *detector_, optimizer_.get(), state_, config_);
    if (better) {
      save_training_checkpoint(paths_.best, *detector_, nullptr, state_, config_);
      result_.best_checkpoint = paths_.best;
    }
  }
  // No rank starts the next epoch (or ends the run) before rank 0 has written the checkpoint.
  dist_.barrier();
  if (progress_ && v.ran)
    std::cerr << "epoch " << state_.epoch << ": val " << settings_.best_metric << " " << v.value
              << (better ? " (best)" : "") << "\n";
}

}  // namespace

TrainResult train(const Json& config, const TrainOptions& options) {
  TrainingRun run(config, options);
  return run.run();
}

}  // namespace mbmd::engine
