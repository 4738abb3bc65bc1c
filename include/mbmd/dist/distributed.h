// Data-parallel training over c10d (issue 6; docs/design.md, "Distributed training"): every process
// holds a whole model, reads its own shard of each epoch, and the gradients are averaged across
// processes after every backward pass, so that W processes with batch B step exactly like one
// process with batch W*B. The launch interface is torchrun's: RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR, MASTER_PORT. Rendezvous goes through c10d's TCPStore (rank 0 hosts it); collectives
// through ProcessGroupGloo on CPU, ProcessGroupNCCL on CUDA tensors when LibTorch was built with
// it. docs/distributed.md shows how to launch on one or several machines.
#pragma once

#include <ATen/ATen.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mbmd::engine {

// torchrun's variables. Without RANK and WORLD_SIZE in the environment the run is a single
// process (rank 0 of 1).
struct DistributedEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;

  bool distributed() const { return world_size > 1; }
  // Reads the variables; a value that is not a number or out of range (RANK >= WORLD_SIZE, port
  // outside 1..65535, only one of RANK/WORLD_SIZE set) is an mbmd::Error naming the variable.
  static DistributedEnv from_environment();
};

struct DistributedOptions {
  // How long rendezvous and every collective may wait for the other ranks before the run stops
  // with an error: a rank that died is noticed at once (its sockets close), one that hangs after
  // this timeout.
  std::chrono::milliseconds timeout{std::chrono::seconds(300)};
  // "gloo", "nccl" or "auto" (NCCL when LibTorch has it and CUDA is available, else Gloo).
  std::string backend = "auto";
};

// One process's membership of the run. With world size 1 no process group is made and every
// collective is the identity, so a trainer calls the same code in both cases.
class DistributedContext {
 public:
  // Rendezvous: rank 0 starts the TCPStore on MASTER_PORT, every rank connects, then the process
  // group is made. Failures (port taken, master unreachable, a rank missing after the timeout)
  // are mbmd::Error naming the rank, the address and the cause.
  explicit DistributedContext(const DistributedEnv& env = DistributedEnv::from_environment(),
                              DistributedOptions options = {});
  ~DistributedContext();
  DistributedContext(const DistributedContext&) = delete;
  DistributedContext& operator=(const DistributedContext&) = delete;

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  int local_rank() const { return env_.local_rank; }
  bool is_main() const { return env_.rank == 0; }  // the rank that logs, validates and saves
  bool distributed() const { return env_.world_size > 1; }
  const DistributedEnv& env() const { return env_; }
  const DistributedOptions& options() const { return options_; }
  std::string backend() const;  // "gloo", "nccl" or "none" (one process)

  // Copies rank 0's values into these tensors on every rank (parameters and buffers at the
  // start of a run, so that every replica begins identical). Checks first that every rank holds
  // the same number of tensors with the same sizes; a mismatch is an mbmd::Error on every rank.
  void broadcast(const std::vector<at::Tensor>& tensors);
  // Averages the gradients of `params` across ranks in place, in flattened buckets of at most
  // `bucket_bytes` (after backward; GradientReducer overlaps this with backward instead).
  // Parameters whose grad is undefined on every rank keep it undefined.
  void all_reduce_gradients(const std::vector<at::Tensor>& params, int64_t bucket_bytes = 25 << 20);
  // Sum (or mean) across ranks, in place; e.g. loss values for rank 0's log.
  void all_reduce_sum(at::Tensor& tensor);
  void all_reduce_mean(at::Tensor& tensor);
  // Every rank waits until all have arrived.
  void barrier();

  struct Impl;

 private:
  friend class GradientReducer;
  DistributedEnv env_;
  DistributedOptions options_;
  std::unique_ptr<Impl> impl_;
};

// Gradient averaging that overlaps communication with backward, as PyTorch's DDP reducer does:
// the parameters are split into buckets of at most `bucket_bytes` in reverse registration order
// (roughly the order in which backward produces their gradients); a post-hook on each
// parameter's gradient accumulator marks it ready, and once every parameter of a bucket is ready
// its gradients are copied into one flat buffer and an asynchronous all-reduce is started, while
// backward goes on. Buckets are launched in the same order on every rank (collectives must
// match). finish() launches what is left (a parameter that got no gradient on this rank counts
// as zero), waits, and writes the averages back into the .grad of every parameter; a parameter
// that got no gradient on any rank keeps an undefined .grad, so the optimiser skips it as a
// single process would.
//
// Per iteration: zero_grad, forward, loss.backward(), reducer.finish(), optimizer.step().
// Parameters that do not require grad (frozen layers) are left out. With one process the
// reducer installs no hooks and finish() does nothing.
class GradientReducer {
 public:
  GradientReducer(DistributedContext& context, std::vector<at::Tensor> params,
                  int64_t bucket_bytes = 25 << 20);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  void finish();
  // Bucket layout: indices into `params` per bucket, in launch order.
  const std::vector<std::vector<size_t>>& buckets() const;
  // Buckets whose all-reduce started during the last backward pass (before finish()): the
  // measure of overlap.
  int64_t buckets_launched_during_backward() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// Which positions of an epoch's order rank `rank` reads. Every rank computes the same order (same
// seed and epoch); it is padded by repeating its first elements to a multiple of world_size so
// every rank gets ceil(n / world_size) positions and takes the same number of steps (as PyTorch's
// DistributedSampler). Strided: rank r reads positions r, r+W, r+2W, ...; with batch B per rank,
// step s of all ranks together then covers positions s*B*W .. (s+1)*B*W-1 of the padded order,
// exactly one process's batch of B*W. Contiguous: rank r reads one block of consecutive
// positions. Positions (not sample indices) are returned so the caller can pick both the sample
// and its flip from an EpochPlan.
enum class ShardMode { kStrided, kContiguous };
std::vector<size_t> shard_positions(size_t num_items, int rank, int world_size,
                                    ShardMode mode = ShardMode::kStrided);
ShardMode shard_mode_from_string(const std::string& name);  // "strided" | "contiguous"

}  // namespace mbmd::engine
