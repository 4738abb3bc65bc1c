#include "mbmd/pipeline/data_pipeline.h"

#include <algorithm>
#include <random>

#include "mbmd/core/error.h"
#include "mbmd/core/seed.h"
#include "mbmd/data/coco.h"
#include "mbmd/data/image_limits.h"
#include "mbmd/data/split.h"
#include "mbmd/dist/distributed.h"
#include "mbmd/model/detector_options.h"

namespace mbmd::engine {
namespace {

at::Tensor normalise(const at::Tensor& grey, const model::InputOptions& o) {
  // As prepare_image: optional 0..1 range, then per-channel mean and std of the three copies.
  const at::Tensor g = o.unit_range ? grey / 255.0 : grey;
  const auto mean = at::tensor({o.mean[0], o.mean[1], o.mean[2]}, at::kFloat).view({3, 1, 1});
  const auto std = at::tensor({o.std[0], o.std[1], o.std[2]}, at::kFloat).view({3, 1, 1});
  return ((g.unsqueeze(0) - mean) / std).contiguous();
}

}  // namespace

void apply_image_limits(const Json& config) {
  data::ImageLimits limits;
  limits.max_pixels = config_at(config, "data.max_pixels").get<int64_t>();
  limits.max_frames = config_at(config, "data.max_frames").get<int64_t>();
  data::set_image_limits(limits);
}

data::Dataset read_dataset_from_config(const Json& config) {
  apply_image_limits(config);
  const Json& d = config_at(config, "data");
  const std::string name = d.at("dataset").get<std::string>();
  const std::string root = d.at("root").get<std::string>();
  const bool skip_bad = d.at("skip_bad").get<bool>();
  data::Dataset dataset;
  if (name == "coco") {
    const std::string ann_file = d.at("ann_file").get<std::string>();
    if (ann_file.empty())
      throw Error(
          "config key 'data.ann_file' is empty: data.dataset \"coco\" needs a COCO json file");
    data::CocoReadOptions options;
    options.image_root = root;
    options.skip_bad = skip_bad;
    dataset = data::read_coco(ann_file, options);
  } else {
    if (root.empty())
      throw Error("config key 'data.root' is empty: data.dataset \"" + name +
                  "\" needs the dataset folder");
    data::DatasetOptions options;
    options.root = root;
    options.masses_only = d.at("masses_only").get<bool>();
    options.skip_bad = skip_bad;
    options.classes = d.at("classes").get<std::vector<std::string>>();
    // ["mass"] (the default) means each dataset's own mass classes, as `mbmd convert` does.
    if (options.classes == std::vector<std::string>{"mass"}) options.classes.clear();
    options.separate_classes = d.at("separate_classes").get<bool>();
    const int64_t labels =
        options.separate_classes ? static_cast<int64_t>(options.classes.size()) : 1;
    const int64_t num_classes = config_at(config, "model.num_classes").get<int64_t>();
    if (options.separate_classes && labels != num_classes)
      throw Error("config key 'data.separate_classes' gives " + std::to_string(labels) +
                  " labels (one per entry of data.classes) but model.num_classes is " +
                  std::to_string(num_classes));
    dataset = data::read_dataset(name, options);
  }
  if (d.at("masses_only").get<bool>()) {
    std::vector<data::Sample> kept;
    for (auto& s : dataset.samples)
      if (s.boxes.defined() && s.boxes.size(0) > 0) kept.push_back(std::move(s));
    dataset.samples = std::move(kept);
  }
  return dataset;
}

std::vector<data::Sample> usable_samples(const std::vector<data::Sample>& samples) {
  std::vector<data::Sample> out;
  for (const auto& s : samples)
    if (!s.lesion_without_location) out.push_back(s);
  return out;
}

DataParts split_dataset(const Json& config, const data::Dataset& dataset) {
  const Json& d = config_at(config, "data");
  const std::string mode = d.at("split").get<std::string>();
  const auto samples = usable_samples(dataset.samples);
  DataParts parts;
  if (mode == "none") {
    parts.train = parts.val = parts.test = samples;
    return parts;
  }
  if (mode != "cv")
    throw Error("config key 'data.split' must be \"cv\" or \"none\", got \"" + mode + "\"");
  const std::string split_file = d.at("split_file").get<std::string>();
  data::Split split;
  if (!split_file.empty()) {
    split = data::read_split(split_file);
    data::check_split(split, dataset.samples);
  } else {
    split = data::make_split(dataset.samples, d.at("split_seed").get<uint64_t>(), dataset.root);
  }
  const int r = d.at("permutation").get<int>();
  if (r < 0 || r >= static_cast<int>(split.parts.size()))
    throw Error("config key 'data.permutation' must be in 0.." +
                std::to_string(split.parts.size() - 1) + ", got " + std::to_string(r));
  const data::Fold fold = data::split_fold(split, r);
  // Samples left out (unlocated lesions) may still be listed in a split file: select from all,
  // then drop them.
  parts.train = usable_samples(data::select_samples(dataset.samples, fold.train));
  parts.val = usable_samples(data::select_samples(dataset.samples, fold.val));
  parts.test = usable_samples(data::select_samples(dataset.samples, fold.test));
  return parts;
}

EpochPlan plan_epoch(size_t n, uint64_t seed, int64_t epoch, bool shuffle, double flip_prob) {
  EpochPlan plan;
  plan.order.resize(n);
  for (size_t i = 0; i < n; ++i) plan.order[i] = i;
  plan.flips.assign(n, false);
  if (!shuffle) return plan;
  std::mt19937_64 rng(derive_seed(seed, static_cast<uint64_t>(epoch)));
  for (size_t i = n; i-- > 1;) std::swap(plan.order[i], plan.order[rng() % (i + 1)]);
  for (size_t i = 0; i < n; ++i) {
    const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;  // [0, 1)
    plan.flips[i] = u < flip_prob;
  }
  return plan;
}

PipelineOptions pipeline_options_from_config(const Json& config, bool train) {
  PipelineOptions o;
  o.input = model::detector_options_from_config(config).input;
  const Json& d = config_at(config, "data");
  const Json& t = config_at(config, "train");
  o.workers = d.at("workers").get<int>();
  if (o.workers < 0)
    throw Error("config key 'data.workers' must be >= 0, got " + std::to_string(o.workers));
  o.cache = d.at("cache").get<bool>();
  o.batch_size = t.at("batch_size").get<int64_t>();
  if (o.batch_size < 1)
    throw Error("config key 'train.batch_size' must be >= 1, got " + std::to_string(o.batch_size));
  o.seed = t.at("seed").get<uint64_t>();
  o.train = train;
  o.augment = augment_options_from_config(config);
  return o;
}

DataPipeline::DataPipeline(std::vector<data::Sample> samples, PipelineOptions options)
    : samples_(std::move(samples)), options_(std::move(options)) {
  if (options_.batch_size < 1) throw Error("a data pipeline needs a batch size >= 1");
  if (options_.shard_world < 1 || options_.shard_rank < 0 ||
      options_.shard_rank >= options_.shard_world)
    throw Error("a data pipeline's shard " + std::to_string(options_.shard_rank) + " of " +
                std::to_string(options_.shard_world) + " is out of range");
  if (options_.prefetch < 1) options_.prefetch = 1;
  for (auto& s : samples_) s.image = at::Tensor();  // pixels are loaded here, on demand
  cache_.resize(samples_.size());
  base_cache_.resize(samples_.size());
  if (options_.train && options_.augment.copy_paste_prob > 0) mass_bank_ = mass_bank(samples_);
}

DataPipeline::~DataPipeline() { stop_workers(); }

int64_t DataPipeline::num_batches() const {
  return (epoch_size() + options_.batch_size - 1) / options_.batch_size;
}

int64_t DataPipeline::epoch_size() const {
  const auto n = static_cast<int64_t>(samples_.size());
  if (options_.shard_world <= 1) return n;
  return (n + options_.shard_world - 1) / options_.shard_world;
}

void DataPipeline::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  stopping_ = false;
}

void DataPipeline::start_epoch(int64_t epoch) {
  stop_workers();
  epoch_ = epoch;
  plan_ = plan_epoch(samples_.size(), options_.seed, epoch, options_.train,
                     options_.train ? options_.input.flip_prob : 0.0);
  if (options_.flip_all && !options_.train) plan_.flips.assign(plan_.flips.size(), true);
  if (options_.shard_world > 1) {
    // This rank's positions of the epoch's order; the flip drawn for a position goes with it.
    EpochPlan shard;
    for (size_t p :
         shard_positions(plan_.order.size(), options_.shard_rank, options_.shard_world)) {
      shard.order.push_back(plan_.order[p]);
      shard.flips.push_back(plan_.flips[p]);
    }
    plan_ = std::move(shard);
  }
  next_to_build_ = 0;
  next_to_hand_out_ = 0;
  ready_.clear();
  error_ = nullptr;
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { worker_loop(); });
}

data::Sample DataPipeline::decoded(size_t index) const {
  data::Sample sample = samples_[index];
  data::load_sample_image(sample);
  if (sample.image.dim() != 2)
    throw Error(sample.file + ": " + sample.image_id + " decodes to " +
                std::to_string(sample.image.dim()) +
                " dimensions, expected one 2D image (multi-frame files need a frame)");
  return sample;
}

at::Tensor DataPipeline::boxes_to_keep(size_t index) const {
  return options_.train ? samples_[index].boxes : at::Tensor();
}

DataPipeline::Resized DataPipeline::load_input(size_t index, const AugmentDraw& draw) {
  if (!options_.train || !options_.augment.geometric()) return load_resized(index);
  Resized out;
  const BaseImage base = load_base(index, out.original);
  auto resized = resize_base(base, options_.input, draw, samples_[index].boxes);
  out.grey = resized.grey;
  out.meta = resized.meta;
  return out;
}

BaseImage DataPipeline::load_base(size_t index, at::Tensor& original) {
  if (options_.cache && !options_.keep_original) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (base_cache_[index].grey.defined()) return base_cache_[index];
  }
  const data::Sample sample = decoded(index);
  BaseImage base = make_base(sample.image, options_.input, options_.augment, boxes_to_keep(index));
  if (options_.keep_original) original = sample.image;
  if (options_.cache) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    base_cache_[index] = base;
  }
  return base;
}

DataPipeline::Resized DataPipeline::load_resized(size_t index) {
  if (options_.cache) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_[index].grey.defined()) return cache_[index];
  }
  const data::Sample sample = decoded(index);
  // Resizing the grey image before normalising equals prepare_image's order (normalise, then
  // resize) up to rounding: both steps are affine and bilinear weights sum to one. Keeping one
  // grey channel makes the cache three times smaller.
  model::InputOptions resize_only = options_.input;
  resize_only.mean = {0, 0, 0};
  resize_only.std = {1, 1, 1};
  resize_only.unit_range = false;
  const auto prepared =
      model::prepare_image(sample.image, resize_only, /*flip=*/false, boxes_to_keep(index));
  Resized out;
  out.grey = prepared.tensor.select(0, 0).contiguous();
  out.meta = prepared.meta;
  if (options_.keep_original) out.original = sample.image;
  if (options_.cache) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    Resized cached = out;
    cached.original = at::Tensor();  // originals are handed out, never cached
    cache_[index] = cached;
  }
  return out;
}

PastedMasses DataPipeline::paste_into(size_t index, const Resized& target,
                                      const AugmentDraw& draw) {
  PasteRequest request;
  request.seed = draw.paste_seed;
  request.max_masses = options_.augment.copy_paste_max;
  request.tissue_grey = options_.input.crop_breast.threshold;
  request.own_sample = index;
  const auto load_source = [this](size_t source) {
    try {
      const Resized r = load_input(source, AugmentDraw{});
      return GreyView{r.grey, r.meta};
    } catch (const std::exception&) {
      if (!options_.skip_bad) throw;
      return GreyView{};  // a film that cannot be loaded gives no mass; its own turn says why
    }
  };
  return paste_masses({target.grey, target.meta}, samples_[index].boxes, samples_, mass_bank_,
                      load_source, request);
}

LoadedBatch DataPipeline::build(int64_t batch_index) {
  LoadedBatch out;
  out.index = batch_index;
  const auto n = static_cast<int64_t>(plan_.order.size());
  const int64_t begin = batch_index * options_.batch_size;
  const int64_t end = std::min(n, begin + options_.batch_size);
  std::vector<model::PreparedImage> images;
  for (int64_t k = begin; k < end; ++k) {
    const size_t index = plan_.order[static_cast<size_t>(k)];
    const bool flip = plan_.flips[static_cast<size_t>(k)];
    // Every draw of an image is a function of (seed, epoch, sample); without `train` none.
    const AugmentDraw draw = options_.train
                                 ? draw_augment(options_.augment, options_.seed, epoch_, index)
                                 : AugmentDraw{};
    const auto& sample = samples_[index];
    at::Tensor boxes = sample.boxes.defined() ? sample.boxes : at::zeros({0, 4}, at::kFloat);
    at::Tensor labels =
        sample.labels.defined() ? sample.labels.to(at::kLong) : at::zeros({0}, at::kLong);
    Resized r;
    try {
      r = load_input(index, draw);
    } catch (const std::exception& e) {
      if (!options_.skip_bad) throw;
      out.failed.emplace_back(index, e.what());
      continue;
    }
    if (draw.paste && !mass_bank_.empty()) {
      const auto pasted = paste_into(index, r, draw);
      r.grey = pasted.grey;
      boxes = at::cat({boxes.reshape({-1, 4}).to(at::kFloat), pasted.boxes});
      labels = at::cat({labels.reshape({-1}), pasted.labels});
    }
    model::PreparedImage image;
    at::Tensor grey = jitter_grey(r.grey, draw);
    image.meta = r.meta;
    if (draw.vflip) {
      grey = grey.flip({0});
      image.meta.vflipped = true;
    }
    image.tensor = normalise(grey, options_.input);
    if (flip) {
      // A flip on top of the canonical side's mirror undoes it.
      image.tensor = image.tensor.flip({2}).contiguous();
      image.meta.flipped = !image.meta.flipped;
    }
    out.batch.gt_boxes.push_back(model::boxes_to_input(boxes.reshape({-1, 4}), image.meta));
    out.batch.gt_labels.push_back(labels.reshape({-1}));
    out.samples.push_back(index);
    if (options_.keep_original) out.originals.push_back(r.original);
    images.push_back(std::move(image));
  }
  if (images.empty()) return out;  // every sample of the batch failed (skip_bad)
  auto collated = model::collate(images, options_.input.size_divisor);
  out.batch.images = collated.images;
  out.batch.metas = collated.metas;
  return out;
}

void DataPipeline::worker_loop() {
  for (;;) {
    int64_t b = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] {
        return stopping_ || error_ ||
               (next_to_build_ < num_batches() &&
                next_to_build_ < next_to_hand_out_ + 1 + options_.prefetch * options_.workers);
      });
      if (stopping_ || error_) return;
      b = next_to_build_++;
    }
    try {
      LoadedBatch batch = build(b);
      std::lock_guard<std::mutex> lock(mutex_);
      ready_.emplace(b, std::move(batch));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    changed_.notify_all();
  }
}

bool DataPipeline::next(LoadedBatch& out) {
  if (next_to_hand_out_ >= num_batches()) return false;
  if (threads_.empty()) {
    out = build(next_to_hand_out_++);
    return true;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return error_ || ready_.count(next_to_hand_out_) > 0; });
  if (ready_.count(next_to_hand_out_) == 0) std::rethrow_exception(error_);
  auto it = ready_.find(next_to_hand_out_);
  out = std::move(it->second);
  ready_.erase(it);
  ++next_to_hand_out_;
  lock.unlock();
  changed_.notify_all();
  return true;
}

}  // namespace mbmd::engine
