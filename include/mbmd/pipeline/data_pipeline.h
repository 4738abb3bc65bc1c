// From a config to batches the detector takes: the dataset and its parts (the paper's protocol,
// docs/design.md, "Protocol"), and a loader that decodes, resizes, flips and collates images on
// worker threads ahead of the model, in an order fixed by (seed, epoch) so that a resumed run sees
// the same data as an uninterrupted one.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mbmd/core/config.h"
#include "mbmd/data/dataset.h"
#include "mbmd/model/input_transform.h"
#include "mbmd/pipeline/augment.h"
#include "mbmd/pipeline/copy_paste.h"

namespace mbmd::engine {

// The `data` section: data.dataset "coco" reads data.ann_file (images under data.root, or where
// the file says); any other name is a reader of mbmd::data::read_dataset with data.root.
// data.masses_only keeps images with boxes; data.skip_bad skips bad items. Throws mbmd::Error.
data::Dataset read_dataset_from_config(const Json& config);

struct DataParts {
  std::vector<data::Sample> train, val, test;
};

// data.split "cv": the parts of data.split_file, or five parts made with data.split_seed, and
// permutation data.permutation (test = part r, val = part r+1, train = the rest); "none": every
// sample in all three (a quick run on one set). Samples whose lesion has no location are left
// out of every part.
DataParts split_dataset(const Json& config, const data::Dataset& dataset);

// The samples a run may use: those with lesion_without_location left out.
std::vector<data::Sample> usable_samples(const std::vector<data::Sample>& samples);

// The order and flips of one epoch: a Fisher-Yates shuffle driven by std::mt19937_64 seeded from
// (seed, epoch), drawing j = rng() % (i + 1), then one flip draw per position (the same on every
// standard library). Without shuffling the order is 0..n-1 and nothing is flipped.
struct EpochPlan {
  std::vector<size_t> order;
  std::vector<bool> flips;
};
EpochPlan plan_epoch(size_t num_samples, uint64_t seed, int64_t epoch, bool shuffle,
                     double flip_prob);

struct PipelineOptions {
  model::InputOptions input;
  int64_t batch_size = 1;
  int workers = 2;     // threads that load ahead of the model; 0 loads on the caller's thread
  int prefetch = 2;    // batches a worker may hold ready beyond the one being consumed
  bool cache = false;  // keep every decoded, resized image in memory after its first use
  bool train = false;  // shuffle per epoch, flip with input.flip_prob, augment as `augment` says
  AugmentOptions augment;  // used with `train` only
  uint64_t seed = 0;
  bool keep_original = false;  // also hand out the decoded pixels at their original size
  // Test-time augmentation: every image mirrored (meta.flipped, so detections come back in the
  // original, unmirrored pixels). Not with `train`, which draws its own flips.
  bool flip_all = false;
  // A sample that cannot be loaded (a broken file, one over the size limits) is left out of its
  // batch and reported in LoadedBatch::failed instead of ending the epoch with an error.
  bool skip_bad = false;
  // Data-parallel training (distributed.h): with shard_world > 1 this pipeline reads only rank
  // shard_rank's positions of each epoch's order (shard_positions, strided), so every rank takes
  // ceil(n / shard_world) samples per epoch and step s of all ranks covers one combined batch.
  int shard_rank = 0;
  int shard_world = 1;
};

// Sets the readers' limits (data/image_limits.h) from data.max_pixels and data.max_frames.
void apply_image_limits(const Json& config);

// data.workers, data.cache, train.batch_size, train.seed, the model's input options and the
// augmentation options.
PipelineOptions pipeline_options_from_config(const Json& config, bool train);

struct LoadedBatch {
  int64_t index = 0;                  // batch number within the epoch
  model::Batch batch;                 // gt boxes in input coordinates, labels 0-based
  std::vector<size_t> samples;        // positions in the pipeline's sample list
  std::vector<at::Tensor> originals;  // float [H, W] 0..255, with keep_original
  // With PipelineOptions::skip_bad: the samples of this batch that could not be loaded (position
  // in the pipeline's sample list, and why). A batch may then hold no image at all.
  std::vector<std::pair<size_t, std::string>> failed;
};

class DataPipeline {
 public:
  DataPipeline(std::vector<data::Sample> samples, PipelineOptions options);
  ~DataPipeline();
  DataPipeline(const DataPipeline&) = delete;
  DataPipeline& operator=(const DataPipeline&) = delete;

  const std::vector<data::Sample>& samples() const { return samples_; }
  int64_t num_batches() const;  // per epoch, of this shard
  int64_t epoch_size() const;   // samples per epoch of this shard (all of them unsharded)
  const PipelineOptions& options() const { return options_; }

  // Starts loading the batches of `epoch` (stopping whatever is still loading).
  void start_epoch(int64_t epoch);
  // The next batch of the epoch, in order; false after the last. A loading error (a file that
  // cannot be decoded) is rethrown here as the mbmd::Error it was.
  bool next(LoadedBatch& out);

 private:
  struct Resized {
    at::Tensor grey;  // float [h, w] 0..255, resized, not normalised
    model::ImageMeta meta;
    at::Tensor original;  // with keep_original
  };
  // The image of one sample, resized, with its meta: decoded and prepared (load_resized), or
  // from its base image with the geometric draws (training with augment.geometric()).
  Resized load_input(size_t index, const AugmentDraw& draw);
  Resized load_resized(size_t index);
  BaseImage load_base(size_t index, at::Tensor& original);
  data::Sample decoded(size_t index) const;
  // The ground truth of a sample the input region must keep whole: its boxes in training.
  at::Tensor boxes_to_keep(size_t index) const;
  // augment.copy_paste_prob: masses of other training samples pasted into `target`.
  PastedMasses paste_into(size_t index, const Resized& target, const AugmentDraw& draw);
  LoadedBatch build(int64_t batch_index);
  void worker_loop();
  void stop_workers();

  std::vector<data::Sample> samples_;
  PipelineOptions options_;
  EpochPlan plan_;

  std::mutex cache_mutex_;
  std::vector<Resized> cache_;
  std::vector<BaseImage> base_cache_;  // with geometric augmentation, instead of cache_
  std::vector<MassRef> mass_bank_;     // with augment.copy_paste_prob
  int64_t epoch_ = 0;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
  int64_t next_to_build_ = 0;
  int64_t next_to_hand_out_ = 0;
  std::map<int64_t, LoadedBatch> ready_;
  std::exception_ptr error_;
};

}  // namespace mbmd::engine
