// The training loop on a tiny synthetic set: an interrupted and resumed run ends with the weights
// of an uninterrupted one, a non-finite loss stops the run and keeps the last good checkpoint,
// and the optimiser helpers (momentum buffers by name, gradient clipping) do what they say.
#include "mbmd/train/trainer.h"

#include <gtest/gtest.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "mbmd/core/error.h"
#include "mbmd/dist/distributed.h"
#include "mbmd/inference/checkpoint_config.h"
#include "mbmd/io/checkpoint.h"
#include "mbmd/model/detector.h"
#include "mbmd/model/weights.h"
#include "mbmd/pipeline/data_pipeline.h"
#include "mbmd/train/checkpointing.h"
#include "mbmd/train/optimizer.h"
#include "synthetic_set.h"
#include "temp_dir.h"

namespace mbmd::engine {
namespace {

namespace fs = std::filesystem;

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = mbmd::testing::fresh_test_dir("mbmd_trainer_");
    ann_ = mbmd::testing::write_synthetic_set((root_ / "data").string(), 4);
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string dir(const std::string& name) const { return (root_ / name).string(); }

  fs::path root_;
  std::string ann_;
};

double max_abs_diff(const io::StateDict& a, const io::StateDict& b) {
  EXPECT_EQ(a.size(), b.size());
  std::map<std::string, at::Tensor> by_name(b.begin(), b.end());
  double worst = 0;
  for (const auto& [name, tensor] : a) {
    const auto it = by_name.find(name);
    if (it == by_name.end()) {
      ADD_FAILURE() << name << " missing";
      continue;
    }
    if (!tensor.is_floating_point()) {
      EXPECT_TRUE(tensor.equal(it->second)) << name;
      continue;
    }
    worst = std::max(worst, (tensor - it->second).abs().max().item<double>());
  }
  return worst;
}

std::vector<Json> read_log(const std::string& path) {
  std::vector<Json> entries;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) entries.push_back(Json::parse(line));
  return entries;
}

TEST_F(TrainerTest, ResumedRunEndsWithTheWeightsOfAnUninterruptedOne) {
  const Json config = mbmd::testing::tiny_config(ann_);
  TrainOptions whole;
  whole.work_dir = dir("whole");
  whole.progress = false;
  const auto a = train(config, whole);
  EXPECT_EQ(a.epochs_done, 2);
  EXPECT_EQ(a.iters_done, 4);  // 4 images, batches of 2

  TrainOptions first;
  first.work_dir = dir("staged");
  first.progress = false;
  first.stop_after_epoch = 1;
  const auto b1 = train(config, first);
  EXPECT_EQ(b1.epochs_done, 1);
  const auto after_one = io::load_checkpoint(dir("staged") + "/last.ckpt");
  EXPECT_EQ(after_one.meta.at("epoch").get<int>(), 1);
  EXPECT_EQ(after_one.meta.at("iter").get<int>(), 2);

  TrainOptions second = first;
  second.stop_after_epoch = 0;
  second.resume = true;
  const auto b2 = train(config, second);
  EXPECT_EQ(b2.epochs_done, 2);
  EXPECT_EQ(b2.iters_done, 4);

  const auto ca = io::load_checkpoint(dir("whole") + "/last.ckpt");
  const auto cb = io::load_checkpoint(dir("staged") + "/last.ckpt");
  // Training moved the weights (the comparison below is not of two untouched models) ...
  EXPECT_GT(max_abs_diff(ca.state_dict, after_one.state_dict), 1e-4);
  // ... and the staged run ends where the uninterrupted one does.
  EXPECT_LT(max_abs_diff(ca.state_dict, cb.state_dict), 1e-6);
  ASSERT_TRUE(ca.sections.count("optimizer"));
  ASSERT_TRUE(cb.sections.count("optimizer"));
  EXPECT_FALSE(ca.sections.at("optimizer").empty());
  EXPECT_LT(max_abs_diff(ca.sections.at("optimizer"), cb.sections.at("optimizer")), 1e-6);
  EXPECT_EQ(ca.meta.at("epoch"), cb.meta.at("epoch"));
  EXPECT_EQ(ca.meta.at("config"), config);

  // Both logs: one train entry per iteration (log_interval 1) and one validation per epoch,
  // with the same losses.
  auto la = read_log(dir("whole") + "/log.jsonl");
  auto lb = read_log(dir("staged") + "/log.jsonl");
  // The anchor coverage opens each log once: a resumed run does not measure it again.
  ASSERT_FALSE(la.empty());
  ASSERT_FALSE(lb.empty());
  EXPECT_EQ(la.front().at("type"), "anchor_coverage");
  EXPECT_EQ(la.front(), lb.front());
  la.erase(la.begin());
  lb.erase(lb.begin());
  ASSERT_EQ(la.size(), 6u);
  ASSERT_EQ(lb.size(), la.size());
  for (size_t i = 0; i < la.size(); ++i) {
    EXPECT_EQ(la[i].at("type"), lb[i].at("type"));
    EXPECT_EQ(la[i].at("iter"), lb[i].at("iter"));
    if (la[i].at("type") == "train") {
      for (const char* key : {"loss", "loss_rpn_cls", "loss_rpn_bbox", "loss_cls", "loss_bbox"})
        EXPECT_NEAR(la[i].at(key).get<double>(), lb[i].at(key).get<double>(), 1e-6) << key;
      EXPECT_TRUE(la[i].contains("lr"));
      EXPECT_TRUE(la[i].contains("time"));
    } else {
      EXPECT_EQ(la[i].at("metric"), "ap50");
      EXPECT_TRUE(la[i].at("metrics").contains("ap"));
    }
  }
  // The schedule as configured: warm-up over 2 iterations (ratio 0.001), step after epoch 1.
  EXPECT_NEAR(la[0].at("lr").get<double>(), 0.01 * 0.001, 1e-12);
  EXPECT_NEAR(la[1].at("lr").get<double>(), 0.01 * (1 - 0.5 * 0.999), 1e-12);
  EXPECT_NEAR(la[3].at("lr").get<double>(), 0.001, 1e-12);
  EXPECT_TRUE(fs::exists(dir("whole") + "/best.ckpt"));
  EXPECT_TRUE(fs::exists(dir("whole") + "/config.json"));
}

TEST_F(TrainerTest, NonFiniteLossStopsAndKeepsTheLastGoodCheckpoint) {
  Json config = mbmd::testing::tiny_config(ann_);
  TrainOptions options;
  options.work_dir = dir("run");
  options.progress = false;
  options.stop_after_epoch = 1;
  train(config, options);
  const std::string last = dir("run") + "/last.ckpt";
  const auto good = io::load_checkpoint(last);
  const auto good_time = fs::last_write_time(last);

  apply_overrides(config, {"train.lr=1e30"});
  options.resume = true;
  options.stop_after_epoch = 0;
  try {
    train(config, options);
    FAIL() << "a learning rate of 1e30 trained without a non-finite loss";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("loss is"), std::string::npos) << message;
    EXPECT_NE(message.find("last.ckpt keeps epoch 1"), std::string::npos) << message;
  }
  EXPECT_EQ(fs::last_write_time(last), good_time);
  const auto kept = io::load_checkpoint(last);
  EXPECT_EQ(kept.meta.at("epoch").get<int>(), 1);
  EXPECT_EQ(max_abs_diff(kept.state_dict, good.state_dict), 0.0);
  const auto log = read_log(dir("run") + "/log.jsonl");
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back().at("type"), "error");
}

// train.load_from starts a run from another detector's weights: a 2-class checkpoint fine-tunes
// a 1-class model, whose box predictor (another shape) keeps its fresh initialisation.
TEST_F(TrainerTest, LoadFromStartsFromAnotherModelsWeights) {
  Json two_classes = mbmd::testing::tiny_config(ann_);
  apply_overrides(two_classes, {"model.num_classes=2"});
  at::manual_seed(7);
  model::FasterRCNN source(model::detector_options_from_config(two_classes));
  io::Checkpoint checkpoint;
  checkpoint.state_dict = model::model_state_dict(*source);
  const std::string source_path = dir("source.ckpt");
  io::save_checkpoint(source_path, checkpoint);

  Json config = mbmd::testing::tiny_config(ann_);
  apply_overrides(config, {"train.load_from=" + source_path, "train.lr=0", "train.epochs=1",
                           "train.val_interval=0"});
  TrainOptions options;
  options.work_dir = dir("finetune");
  options.progress = false;
  train(config, options);
  const auto trained = io::load_checkpoint(dir("finetune") + "/last.ckpt").state_dict;
  std::map<std::string, at::Tensor> from(checkpoint.state_dict.begin(),
                                         checkpoint.state_dict.end());
  int same = 0;
  for (const auto& [name, tensor] : trained) {
    if (!tensor.is_floating_point() || name.find("running_") != std::string::npos) continue;
    const bool head = name.rfind("roi_head.bbox_head.fc_cls.", 0) == 0 ||
                      name.rfind("roi_head.bbox_head.fc_reg.", 0) == 0;
    ASSERT_TRUE(from.count(name)) << name;
    if (head) {
      EXPECT_NE(tensor.sizes(), from[name].sizes()) << name;
    } else {
      EXPECT_TRUE(tensor.equal(from[name])) << name << " changed with lr 0";
      ++same;
    }
  }
  EXPECT_GT(same, 50);

  Json unrelated = config;
  apply_overrides(unrelated, {"train.load_from=" + dir("missing.ckpt")});
  options.work_dir = dir("missing");
  EXPECT_THROW(train(unrelated, options), Error);
}

TEST_F(TrainerTest, RefusesToOverwriteARunOrResumeNothing) {
  const Json config = mbmd::testing::tiny_config(ann_);
  TrainOptions options;
  options.work_dir = dir("run");
  options.progress = false;
  options.resume = true;
  EXPECT_THROW(train(config, options), Error);  // nothing to resume
  EXPECT_FALSE(fs::exists(dir("run")));

  std::ofstream(dir("file")) << "not a folder";
  options.work_dir = dir("file");
  options.resume = false;
  EXPECT_THROW(train(config, options), Error);

  fs::create_directories(dir("used"));
  std::ofstream(dir("used") + "/last.ckpt") << "previous run";
  options.work_dir = dir("used");
  EXPECT_THROW(train(config, options), Error);
  std::ifstream in(dir("used") + "/last.ckpt");
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, "previous run");
  EXPECT_FALSE(fs::exists(dir("used") + "/config.json"));

  Json bad = config;
  apply_overrides(bad, {"train.best_metric=auc"});
  options.work_dir = dir("fresh");
  EXPECT_THROW(train(bad, options), Error);
  EXPECT_FALSE(fs::exists(dir("fresh")));
}

TEST(Optimizer, MomentumBuffersRoundTripByName) {
  torch::nn::Module model;
  auto w = model.register_parameter("weight", at::ones({3}));
  model.register_parameter("frozen", at::ones({2}), /*requires_grad=*/false);
  auto sgd = make_sgd(model, {0.1, 0.9, 0.0});
  EXPECT_TRUE(momentum_buffers(*sgd, model).empty());  // no step yet
  w.mutable_grad() = at::full({3}, 2.0);
  sgd->step();
  // First step: buffer = grad; w = 1 - 0.1 * 2.
  const auto buffers = momentum_buffers(*sgd, model);
  ASSERT_EQ(buffers.size(), 1u);
  EXPECT_EQ(buffers[0].first, "weight");
  EXPECT_TRUE(buffers[0].second.allclose(at::full({3}, 2.0)));
  EXPECT_TRUE(w.allclose(at::full({3}, 0.8)));

  // A fresh optimiser given the buffers continues as the first: buffer = 0.9 * 2 + 2 = 3.8.
  auto again = make_sgd(model, {0.1, 0.9, 0.0});
  restore_momentum_buffers(*again, model, buffers, "test");
  again->step();
  EXPECT_TRUE(w.allclose(at::full({3}, 0.8 - 0.38)));

  EXPECT_THROW(restore_momentum_buffers(*again, model, {{"nope", at::ones({3})}}, "t"), Error);
  EXPECT_THROW(restore_momentum_buffers(*again, model, {{"weight", at::ones({4})}}, "t"), Error);
  EXPECT_THROW(restore_momentum_buffers(*again, model, {{"frozen", at::ones({2})}}, "t"), Error);
}

// mmdetection's norm_decay_mult and bias_decay_mult: with zero gradients only weight decay moves a
// parameter, so the factors show as which parameters move.
TEST(Optimizer, NormAndBiasDecayMultipliersScaleWeightDecay) {
  auto moved = [](double norm_mult, double bias_mult) {
    torch::nn::Module model;
    auto linear = model.register_module("fc", torch::nn::Linear(2, 2));
    auto bn = model.register_module("bn", torch::nn::BatchNorm2d(4));
    auto gn = model.register_module("gn", torch::nn::GroupNorm(2, 4));
    std::map<std::string, at::Tensor> before;
    for (const auto& item : model.named_parameters()) {
      at::NoGradGuard no_grad;
      item.value().fill_(1.0);
      item.value().mutable_grad() = at::zeros_like(item.value());
      before[item.key()] = item.value().clone();
    }
    SgdSettings settings{0.1, 0.0, 0.5};
    settings.norm_decay_mult = norm_mult;
    settings.bias_decay_mult = bias_mult;
    make_sgd(model, settings)->step();
    std::vector<std::string> names;
    for (const auto& item : model.named_parameters())
      if (!item.value().equal(before[item.key()])) names.push_back(item.key());
    return names;
  };
  EXPECT_EQ(moved(1.0, 1.0), (std::vector<std::string>{"fc.weight", "fc.bias", "bn.weight",
                                                       "bn.bias", "gn.weight", "gn.bias"}));
  EXPECT_EQ(moved(0.0, 1.0), (std::vector<std::string>{"fc.weight", "fc.bias"}));
  EXPECT_EQ(moved(0.0, 0.0), (std::vector<std::string>{"fc.weight"}));
  EXPECT_EQ(moved(1.0, 0.0), (std::vector<std::string>{"fc.weight", "bn.weight", "bn.bias",
                                                       "gn.weight", "gn.bias"}));
}

TEST(Optimizer, ClipGradNormScalesToTheMaximum) {
  torch::nn::Module model;
  auto a = model.register_parameter("a", at::zeros({2}));
  auto b = model.register_parameter("b", at::zeros({1}));
  a.mutable_grad() = at::tensor({3.0f, 0.0f});
  b.mutable_grad() = at::tensor({4.0f});
  EXPECT_NEAR(clip_grad_norm(model, 10.0), 5.0, 1e-6);  // under the maximum: unchanged
  EXPECT_TRUE(b.grad().allclose(at::tensor({4.0f})));
  EXPECT_NEAR(clip_grad_norm(model, 1.0), 5.0, 1e-6);
  EXPECT_NEAR(a.grad()[0].item<float>(), 3.0 / (5.0 + 1e-6), 1e-6);
  EXPECT_NEAR(b.grad()[0].item<float>(), 4.0 / (5.0 + 1e-6), 1e-6);
}

TEST(Checkpointing, TrainStateRoundTripsThroughMeta) {
  TrainState s;
  s.epoch = 3;
  s.iter = 30;
  s.iters_per_epoch = 10;
  s.best_metric = "ap50";
  s.best_value = 0.25;
  s.best_epoch = 2;
  s.lr = 0.001;
  const Json meta = train_state_to_meta(s, default_config());
  const auto back = train_state_from_meta(meta, "m");
  EXPECT_EQ(back.epoch, 3);
  EXPECT_EQ(back.iter, 30);
  EXPECT_EQ(back.best_metric, "ap50");
  EXPECT_DOUBLE_EQ(back.best_value, 0.25);
  EXPECT_EQ(back.best_epoch, 2);
  EXPECT_THROW(train_state_from_meta(Json{{"format", "other"}}, "m"), Error);
  Json broken = meta;
  broken.erase("iter");
  EXPECT_THROW(train_state_from_meta(broken, "m"), Error);
  io::Checkpoint no_config;
  EXPECT_THROW(config_from_checkpoint(no_config, "c"), Error);
}

// The training pipeline sharded over 2 ranks (as train() sets it up): each rank takes
// ceil(5 / 2) = 3 samples of epoch e, rank r the positions r, r + 2, ... of the unsharded plan
// (padded with its start), with their flips, so step s of both covers one batch of 2.
TEST_F(TrainerTest, ShardedPipelineReadsEachRanksPositionsOfTheEpochPlan) {
  const auto ann = mbmd::testing::write_synthetic_set(dir("five"), 5);
  const Json config = mbmd::testing::tiny_config(ann);
  const auto parts = split_dataset(config, read_dataset_from_config(config));
  ASSERT_EQ(parts.train.size(), 5u);
  PipelineOptions options = pipeline_options_from_config(config, /*train=*/true);
  options.batch_size = 1;
  options.workers = 0;
  const EpochPlan plan = plan_epoch(5, options.seed, 1, true, options.input.flip_prob);
  const std::vector<size_t> padded{plan.order[0], plan.order[1], plan.order[2],
                                   plan.order[3], plan.order[4], plan.order[0]};
  for (int rank = 0; rank < 2; ++rank) {
    PipelineOptions shard = options;
    shard.shard_rank = rank;
    shard.shard_world = 2;
    DataPipeline pipeline(parts.train, shard);
    EXPECT_EQ(pipeline.num_batches(), 3);
    pipeline.start_epoch(1);
    LoadedBatch batch;
    std::vector<size_t> seen;
    std::vector<bool> flipped;
    while (pipeline.next(batch)) {
      seen.push_back(batch.samples.at(0));
      flipped.push_back(batch.batch.metas.at(0).flipped);
    }
    const std::vector<size_t> expected{padded[rank], padded[rank + 2], padded[rank + 4]};
    EXPECT_EQ(seen, expected) << "rank " << rank;
    for (size_t k = 0; k < 3; ++k)
      EXPECT_EQ(flipped[k], static_cast<bool>(plan.flips[(rank + 2 * k) % 5])) << rank << " " << k;
  }
  PipelineOptions bad = options;
  bad.shard_rank = 2;
  bad.shard_world = 2;
  EXPECT_THROW(DataPipeline(parts.train, bad), Error);
}

}  // namespace
}  // namespace mbmd::engine
