// Data-parallel training over c10d (issue 6). The multi-process tests start this test program
// again as the ranks (through the product's launcher, with torchrun's variables set) and run the
// disabled test DistributedWorker.DISABLED_Run there, whose mode comes from MBMD_DIST_TEST_MODE:
//   train: K SGD steps of a small network on the rank's shard of a combined batch of 8, once with
//          the overlapping GradientReducer and once with all_reduce_gradients after backward;
//          the weights go to $MBMD_DIST_TEST_OUT.<rank>.{reducer,sync}
//   die:   like train, but rank 1 kills itself with SIGKILL in step 3
//   hang:  like train, but rank 1 stops answering (sleeps) in step 3
//   bench: times SGD steps of a small convolutional network on the rank's shard of combined
//          batches (bench/distributed_scaling.sh); rank 0 prints one result line
#include "mbmd/dist/distributed.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "mbmd/core/error.h"
#include "mbmd/dist/launch.h"
#include "temp_dir.h"

namespace mbmd::engine {
namespace {

namespace fs = std::filesystem;

constexpr int kSteps = 6;
constexpr int64_t kCombinedBatch = 8;

// Three layers and one that the forward pass never uses (its grad must stay undefined).
struct TinyNetImpl : torch::nn::Module {
  TinyNetImpl()
      : fc1(register_module("fc1", torch::nn::Linear(6, 16))),
        fc2(register_module("fc2", torch::nn::Linear(16, 16))),
        fc3(register_module("fc3", torch::nn::Linear(16, 3))),
        unused(register_module("unused", torch::nn::Linear(4, 4))) {}
  at::Tensor forward(const at::Tensor& x) { return fc3(torch::tanh(fc2(torch::relu(fc1(x))))); }
  torch::nn::Linear fc1, fc2, fc3, unused;
};
TORCH_MODULE(TinyNet);

// The combined batch of one step: the same on every process.
std::pair<at::Tensor, at::Tensor> combined_batch(int step) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(1000 + step);
  auto x = at::randn({kCombinedBatch, 6}, generator);
  auto y = at::randn({kCombinedBatch, 3}, generator);
  return {x, y};
}

enum class Sync { kReducer, kAfterBackward, kNone };

// Trains a fresh TinyNet for kSteps on this rank's shard of every combined batch and returns its
// parameters flattened. Every rank starts from different weights (seeded by rank): the broadcast
// from rank 0 must make them equal. `on_step` runs before each step (to die or hang in it).
// `shard_world` > 0 overrides which shard is read (rank 0 of shard_world).
at::Tensor train_tiny(DistributedContext& context, Sync sync, int64_t* launched_in_backward,
                      size_t* num_buckets, const std::function<void(int)>& on_step = nullptr,
                      int shard_world = 0) {
  torch::manual_seed(100 + context.rank());
  TinyNet net;
  std::vector<at::Tensor> state;
  for (const auto& p : net->parameters()) state.push_back(p);
  for (const auto& b : net->buffers()) state.push_back(b);
  context.broadcast(state);

  const auto params = net->parameters();
  std::unique_ptr<GradientReducer> reducer;
  // 256-byte buckets: several buckets, so their order and overlap are exercised.
  if (sync == Sync::kReducer) reducer = std::make_unique<GradientReducer>(context, params, 256);
  torch::optim::SGD optimizer(params,
                              torch::optim::SGDOptions(0.05).momentum(0.9).weight_decay(1e-3));
  const auto positions =
      shard_world > 0 ? shard_positions(kCombinedBatch, 0, shard_world)
                      : shard_positions(kCombinedBatch, context.rank(), context.world_size());
  std::vector<int64_t> rows(positions.begin(), positions.end());
  const auto index = at::tensor(rows, at::kLong);
  for (int step = 0; step < kSteps; ++step) {
    if (on_step) on_step(step);
    const auto [x, y] = combined_batch(step);
    optimizer.zero_grad();
    const auto loss =
        at::mse_loss(net->forward(x.index_select(0, index)), y.index_select(0, index));
    loss.backward();
    if (sync == Sync::kReducer) reducer->finish();
    if (sync == Sync::kAfterBackward) context.all_reduce_gradients(params, 256);
    optimizer.step();
  }
  if (reducer) {
    if (launched_in_backward) *launched_in_backward = reducer->buckets_launched_during_backward();
    if (num_buckets) *num_buckets = reducer->buckets().size();
  }
  EXPECT_FALSE(net->unused->weight.grad().defined()) << "an unused parameter got a gradient";
  std::vector<at::Tensor> flat;
  for (const auto& p : params) flat.push_back(p.detach().reshape({-1}));
  return at::cat(flat);
}

void write_tensor(const std::string& path, const at::Tensor& t) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(t.data_ptr<float>()),
            static_cast<std::streamsize>(t.numel() * sizeof(float)));
}

at::Tensor read_tensor(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto t = at::empty({static_cast<int64_t>(bytes.size() / sizeof(float))}, at::kFloat);
  std::memcpy(t.data_ptr<float>(), bytes.data(), t.numel() * sizeof(float));
  return t;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// bench mode: a small convolutional network (about 0.6 M parameters) on 64x64 images, combined
// batch MBMD_BENCH_BATCH (default 16), MBMD_BENCH_STEPS timed steps after 3 warm-up steps.
void run_benchmark(DistributedContext& context) {
  const int64_t batch =
      std::getenv("MBMD_BENCH_BATCH") ? std::atoi(std::getenv("MBMD_BENCH_BATCH")) : 16;
  const int steps =
      std::getenv("MBMD_BENCH_STEPS") ? std::atoi(std::getenv("MBMD_BENCH_STEPS")) : 20;
  torch::manual_seed(1);
  torch::nn::Sequential net(
      torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 32, 3).stride(2).padding(1)), torch::nn::ReLU(),
      torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 3).stride(2).padding(1)),
      torch::nn::ReLU(),
      torch::nn::Conv2d(torch::nn::Conv2dOptions(64, 128, 3).stride(2).padding(1)),
      torch::nn::ReLU(),
      torch::nn::Conv2d(torch::nn::Conv2dOptions(128, 256, 3).stride(2).padding(1)),
      torch::nn::ReLU(), torch::nn::Flatten(), torch::nn::Linear(256 * 16, 10));
  std::vector<at::Tensor> state;
  for (const auto& p : net->parameters()) state.push_back(p);
  context.broadcast(state);
  const auto params = net->parameters();
  GradientReducer reducer(context, params);
  torch::optim::SGD optimizer(params, torch::optim::SGDOptions(0.01).momentum(0.9));
  const auto positions =
      shard_positions(static_cast<size_t>(batch), context.rank(), context.world_size());
  const auto index =
      at::tensor(std::vector<int64_t>(positions.begin(), positions.end()), at::kLong);
  double seconds = 0;
  for (int step = 0; step < steps + 3; ++step) {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(5000 + step);
    const auto x = at::randn({batch, 3, 64, 64}, generator).index_select(0, index);
    const auto y = at::randint(0, 10, {batch}, generator).index_select(0, index);
    context.barrier();
    const auto start = std::chrono::steady_clock::now();
    optimizer.zero_grad();
    at::cross_entropy_loss(net->forward(x), y).backward();
    reducer.finish();
    optimizer.step();
    if (step >= 3)
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  double checksum = 0;
  for (const auto& p : params) checksum += p.detach().abs().sum().item<double>();
  if (context.is_main())
    std::printf(
        "RESULT world %d threads %d batch %lld: %.1f ms/step, %.1f images/s, weights |sum| %.6f\n",
        context.world_size(), at::get_num_threads(), static_cast<long long>(batch),
        1000 * seconds / steps, batch * steps / seconds, checksum);
}

// ---------------------------------------------------------------------------------------------
// The rank side: run only when started by the tests below.

TEST(DistributedWorker, DISABLED_Run) {
  const char* mode_text = std::getenv("MBMD_DIST_TEST_MODE");
  const char* out_text = std::getenv("MBMD_DIST_TEST_OUT");
  ASSERT_TRUE(mode_text && out_text) << "started by the Distributed tests only";
  const std::string mode = mode_text, out = out_text;
  DistributedOptions options;
  const char* timeout_ms = std::getenv("MBMD_DIST_TEST_TIMEOUT_MS");
  if (timeout_ms) options.timeout = std::chrono::milliseconds(std::atoi(timeout_ms));
  try {
    DistributedContext context(DistributedEnv::from_environment(), options);
    std::cerr << "rank " << context.rank() << " of " << context.world_size() << " on "
              << context.backend() << "\n";
    if (mode == "bench") return run_benchmark(context);
    auto on_step = [&](int step) {
      if (context.rank() != 1 || step != 3) return;
      if (mode == "die") raise(SIGKILL);
      if (mode == "hang") std::this_thread::sleep_for(std::chrono::minutes(5));
    };
    int64_t launched = 0;
    size_t buckets = 0;
    const auto weights = train_tiny(context, Sync::kReducer, &launched, &buckets, on_step);
    const std::string prefix = out + "." + std::to_string(context.rank());
    write_tensor(prefix + ".reducer", weights);
    write_tensor(prefix + ".sync", train_tiny(context, Sync::kAfterBackward, nullptr, nullptr));
    std::ofstream(prefix + ".buckets") << buckets << " " << launched << "\n";
    context.barrier();
  } catch (const Error& e) {
    // What `mbmd train` does with an mbmd::Error: print it, exit non-zero.
    std::cerr << "mbmd train: error: " << e.what() << "\n";
    std::exit(1);
  }
}

// ---------------------------------------------------------------------------------------------

class Distributed : public ::testing::Test {
 protected:
  void SetUp() override { root_ = mbmd::testing::fresh_test_dir("mbmd_distributed_"); }
  void TearDown() override { fs::remove_all(root_); }

  LaunchOptions workers(const std::string& mode, int timeout_ms) const {
    LaunchOptions launch;
    launch.args = {"--gtest_filter=DistributedWorker.DISABLED_Run",
                   "--gtest_also_run_disabled_tests"};
    launch.nproc = 2;
    launch.env = {{"MBMD_DIST_TEST_MODE", mode},
                  {"MBMD_DIST_TEST_OUT", (root_ / "weights").string()},
                  {"MBMD_DIST_TEST_TIMEOUT_MS", std::to_string(timeout_ms)},
                  {"OMP_NUM_THREADS", "1"}};
    launch.log_files = {(root_ / "rank0.log").string(), (root_ / "rank1.log").string()};
    launch.verbose = false;
    return launch;
  }
  std::string path(const std::string& name) const { return (root_ / name).string(); }

  fs::path root_;
};

TEST_F(Distributed, TwoRanksStepLikeOneProcessOnTheCombinedBatches) {
  const auto result = launch_local_workers(workers("train", 30000));
  ASSERT_EQ(result.exit_code, 0) << result.message << "\nrank 0:\n"
                                 << read_text(path("rank0.log")) << "\nrank 1:\n"
                                 << read_text(path("rank1.log"));
  EXPECT_NE(read_text(path("rank0.log")).find("rank 0 of 2 on gloo"), std::string::npos);

  // One process, batch 8, no communication at all.
  DistributedContext single(DistributedEnv{}, {});
  EXPECT_EQ(single.backend(), "none");
  const auto reference = train_tiny(single, Sync::kReducer, nullptr, nullptr);
  for (const std::string kind : {"reducer", "sync"}) {
    const auto rank0 = read_tensor(path("weights.0." + kind));
    const auto rank1 = read_tensor(path("weights.1." + kind));
    ASSERT_EQ(rank0.numel(), reference.numel()) << kind;
    ASSERT_EQ(rank1.numel(), reference.numel()) << kind;
    EXPECT_TRUE(rank0.equal(rank1)) << kind << ": the replicas drifted apart";
    const double error = (rank0 - reference).abs().max().item<double>();
    EXPECT_LT(error, 1e-5) << kind;
    std::cout << kind << ": max |2 ranks - 1 process| = " << error << "\n";
  }
  // The tolerance means something: a process that sees only rank 0's half (no all-reduce)
  // ends elsewhere.
  const auto alone = train_tiny(single, Sync::kNone, nullptr, nullptr, nullptr, 2);
  EXPECT_GT((alone - reference).abs().max().item<double>(), 1e-3);

  // Several buckets, and at least one all-reduce started while backward was still running.
  size_t buckets = 0;
  int64_t launched = 0;
  std::ifstream(path("weights.0.buckets")) >> buckets >> launched;
  EXPECT_GE(buckets, 3u);
  EXPECT_GE(launched, 1);
  std::cout << buckets << " buckets, " << launched << " launched during backward\n";
}

TEST_F(Distributed, ADeadRankStopsTheOtherWithAClearMessage) {
  // A long collective timeout: the survivor must notice the death itself (closed sockets), at
  // once, not wait for the timeout.
  auto launch = workers("die", 60000);
  launch.grace = std::chrono::seconds(40);
  const auto start = std::chrono::steady_clock::now();
  const auto result = launch_local_workers(launch);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string log0 = read_text(path("rank0.log"));
  EXPECT_EQ(result.first_failed_rank, 1) << result.message;
  EXPECT_EQ(result.exit_code, 128 + SIGKILL);
  ASSERT_EQ(result.ranks.size(), 2u);
  EXPECT_EQ(result.ranks[1].signal, SIGKILL);
  EXPECT_EQ(result.ranks[0].exit_code, 1) << log0;
  EXPECT_FALSE(result.ranks[0].stopped_by_launcher) << "rank 0 had to be killed:\n" << log0;
  EXPECT_NE(log0.find("rank 0 of 2"), std::string::npos) << log0;
  EXPECT_NE(log0.find("Another rank has stopped"), std::string::npos) << log0;
  EXPECT_NE(result.message.find("rank 1"), std::string::npos);
  EXPECT_NE(result.message.find("--resume"), std::string::npos);
  EXPECT_LT(seconds, 30.0);
  std::cout << "rank 0 stopped " << result.ranks[0].seconds << " s after its start; message:\n"
            << result.message << "\n";
}

TEST_F(Distributed, AHungRankMakesTheOtherStopAfterTheTimeout) {
  auto launch = workers("hang", 3000);
  launch.grace = std::chrono::seconds(2);
  const auto start = std::chrono::steady_clock::now();
  const auto result = launch_local_workers(launch);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string log0 = read_text(path("rank0.log"));
  EXPECT_EQ(result.first_failed_rank, 0) << result.message;
  EXPECT_EQ(result.exit_code, 1);
  ASSERT_EQ(result.ranks.size(), 2u);
  EXPECT_EQ(result.ranks[0].exit_code, 1);
  EXPECT_NE(log0.find("Another rank has stopped"), std::string::npos) << log0;
  EXPECT_NE(log0.find("3 s timeout"), std::string::npos) << log0;
  // The hung rank does not stop by itself: the launcher ends it after the grace period.
  EXPECT_TRUE(result.ranks[1].stopped_by_launcher);
  EXPECT_EQ(result.ranks[1].signal, SIGTERM);
  EXPECT_LT(seconds, 30.0);
  std::cout << "stopped after " << seconds << " s; message:\n" << result.message << "\n";
}

TEST(DistributedRendezvous, AMissingRankIsAnErrorAfterTheTimeout) {
  DistributedEnv env;
  env.world_size = 2;
  env.master_port = find_free_port();
  DistributedOptions options;
  options.timeout = std::chrono::milliseconds(1500);
  const auto start = std::chrono::steady_clock::now();
  try {
    DistributedContext context(env, options);
    FAIL() << "rendezvous with a missing rank succeeded";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(
        message.find("rank 0 of 2: rendezvous at 127.0.0.1:" + std::to_string(env.master_port)),
        std::string::npos)
        << message;
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 20);
}

TEST(DistributedContextTest, OneProcessNeedsNoGroupAndChangesNothing) {
  DistributedContext context(DistributedEnv{}, {});
  EXPECT_FALSE(context.distributed());
  EXPECT_TRUE(context.is_main());
  auto t = at::arange(4, at::kFloat);
  context.all_reduce_mean(t);
  context.barrier();
  EXPECT_TRUE(t.equal(at::arange(4, at::kFloat)));
  auto p = at::ones({3}).requires_grad_();
  GradientReducer reducer(context, {p});
  (p * 2).sum().backward();
  reducer.finish();
  EXPECT_TRUE(p.grad().equal(at::full({3}, 2.0)));
  EXPECT_TRUE(reducer.buckets().empty());
}

TEST(DistributedContextTest, BadOptionsAreErrors) {
  DistributedOptions options;
  options.backend = "mpi";
  EXPECT_THROW(DistributedContext(DistributedEnv{}, options), Error);
#ifndef USE_C10D_NCCL
  DistributedEnv two;
  two.world_size = 2;
  options.backend = "nccl";
  EXPECT_THROW(DistributedContext(two, options), Error);
#endif
}

// Sets environment variables for one test and restores them afterwards.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::map<std::string, std::string> values) {
    for (const char* key : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"}) {
      if (const char* old = std::getenv(key)) saved_[key] = old;
      unsetenv(key);
    }
    for (const auto& [key, value] : values) setenv(key.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() {
    for (const char* key : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"})
      unsetenv(key);
    for (const auto& [key, value] : saved_) setenv(key.c_str(), value.c_str(), 1);
  }

 private:
  std::map<std::string, std::string> saved_;
};

TEST(DistributedEnvTest, ReadsTorchrunVariables) {
  {
    ScopedEnv scoped({});
    const auto env = DistributedEnv::from_environment();
    EXPECT_EQ(env.rank, 0);
    EXPECT_EQ(env.world_size, 1);
    EXPECT_FALSE(env.distributed());
  }
  {
    ScopedEnv scoped({{"RANK", "5"},
                      {"WORLD_SIZE", "8"},
                      {"LOCAL_RANK", "1"},
                      {"MASTER_ADDR", "node0.cluster"},
                      {"MASTER_PORT", "29511"}});
    const auto env = DistributedEnv::from_environment();
    EXPECT_EQ(env.rank, 5);
    EXPECT_EQ(env.world_size, 8);
    EXPECT_EQ(env.local_rank, 1);
    EXPECT_EQ(env.master_addr, "node0.cluster");
    EXPECT_EQ(env.master_port, 29511);
    EXPECT_TRUE(env.distributed());
  }
  const std::vector<std::map<std::string, std::string>> bad = {
      {{"RANK", "2"}, {"WORLD_SIZE", "2"}},
      {{"RANK", "0"}},
      {{"WORLD_SIZE", "2"}},
      {{"RANK", "x"}, {"WORLD_SIZE", "2"}},
      {{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}},
      {{"RANK", "-1"}, {"WORLD_SIZE", "2"}}};
  for (const auto& values : bad) {
    ScopedEnv scoped(values);
    try {
      DistributedEnv::from_environment();
      ADD_FAILURE() << "accepted " << values.begin()->first << "=" << values.begin()->second;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("environment variable"), std::string::npos);
    }
  }
}

TEST(ShardPositions, StridedShardsCoverThePaddedEpochOnce) {
  // 10 items over 3 ranks: padded to 12 by repeating positions 0 and 1.
  EXPECT_EQ(shard_positions(10, 0, 3), (std::vector<size_t>{0, 3, 6, 9}));
  EXPECT_EQ(shard_positions(10, 1, 3), (std::vector<size_t>{1, 4, 7, 0}));
  EXPECT_EQ(shard_positions(10, 2, 3), (std::vector<size_t>{2, 5, 8, 1}));
  EXPECT_EQ(shard_positions(10, 2, 3, ShardMode::kContiguous), (std::vector<size_t>{8, 9, 0, 1}));
  EXPECT_EQ(shard_positions(10, 0, 3, ShardMode::kContiguous), (std::vector<size_t>{0, 1, 2, 3}));
  // Fewer items than ranks: everybody still takes a step.
  EXPECT_EQ(shard_positions(1, 1, 2), (std::vector<size_t>{0}));
  EXPECT_EQ(shard_positions(7, 0, 1), (std::vector<size_t>{0, 1, 2, 3, 4, 5, 6}));
  // With batch B per rank, step s of all ranks together is positions s*B*W .. (s+1)*B*W - 1.
  const size_t n = 24, world = 4, batch = 3;
  for (size_t step = 0; step < n / (batch * world); ++step) {
    std::vector<size_t> seen;
    for (int r = 0; r < static_cast<int>(world); ++r) {
      const auto mine = shard_positions(n, r, static_cast<int>(world));
      seen.insert(seen.end(), mine.begin() + step * batch, mine.begin() + (step + 1) * batch);
    }
    std::sort(seen.begin(), seen.end());
    for (size_t k = 0; k < seen.size(); ++k) EXPECT_EQ(seen[k], step * batch * world + k);
  }
  EXPECT_THROW(shard_positions(0, 0, 2), Error);
  EXPECT_THROW(shard_positions(4, 2, 2), Error);
  EXPECT_EQ(shard_mode_from_string("contiguous"), ShardMode::kContiguous);
  EXPECT_THROW(shard_mode_from_string("random"), Error);
}

TEST(Launcher, ReportsAProgramThatCannotStart) {
  LaunchOptions launch;
  launch.program = "/nonexistent/mbmd";
  launch.nproc = 2;
  launch.verbose = false;
  EXPECT_THROW(launch_local_workers(launch), Error);
  launch.nproc = 0;
  EXPECT_THROW(launch_local_workers(launch), Error);
}

TEST(Launcher, PassesTheTorchrunVariables) {
  const fs::path dir = fs::temp_directory_path() / ("mbmd_launch_env_" + std::to_string(getpid()));
  fs::create_directories(dir);
  LaunchOptions launch;
  launch.program = "/bin/sh";
  launch.args = {"-c", "echo $RANK $WORLD_SIZE $LOCAL_RANK $MASTER_ADDR $MASTER_PORT $EXTRA"};
  launch.nproc = 2;
  launch.master_port = 29999;
  launch.env = {{"EXTRA", "x"}};
  launch.log_files = {(dir / "0").string(), (dir / "1").string()};
  launch.verbose = false;
  const auto result = launch_local_workers(launch);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(read_text((dir / "0").string()), "0 2 0 127.0.0.1 29999 x\n");
  EXPECT_EQ(read_text((dir / "1").string()), "1 2 1 127.0.0.1 29999 x\n");
  // A rank that fails ends the run with its exit code.
  launch.args = {"-c", "if [ $RANK = 1 ]; then exit 7; fi; sleep 20"};
  launch.grace = std::chrono::milliseconds(200);
  const auto start = std::chrono::steady_clock::now();
  const auto failed = launch_local_workers(launch);
  EXPECT_EQ(failed.exit_code, 7);
  EXPECT_EQ(failed.first_failed_rank, 1);
  EXPECT_TRUE(failed.ranks[0].stopped_by_launcher);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mbmd::engine
