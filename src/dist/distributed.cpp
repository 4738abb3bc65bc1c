// Data-parallel training over c10d: rendezvous, broadcast and bucketed gradient averaging
// (include/mbmd/dist/distributed.h). The bucketing follows the design of PyTorch's DDP reducer
// (torch/csrc/distributed/c10d/reducer.cpp): hooks on the gradient accumulators, buckets in
// reverse parameter order, launched strictly in bucket order, and a final all-reduce of the
// "which parameters got a gradient" map so that globally unused parameters stay untouched.
#include "mbmd/dist/distributed.h"

#include <c10/util/Exception.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <sstream>

#include "mbmd/core/error.h"

namespace mbmd::engine {

namespace {

// A number from an environment variable, or `fallback` when unset.
int env_int(const char* name, int fallback, int min_value, int max_value) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < min_value || value > max_value)
    throw Error(std::string("environment variable ") + name + "='" + text +
                "' is not a whole number in " + std::to_string(min_value) + ".." +
                std::to_string(max_value));
  return static_cast<int>(value);
}

// The message of an exception from c10d or Gloo, without LibTorch's C++ backtrace.
std::string cause_of(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e))
    return c10_error->what_without_backtrace();
  return e.what();
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string seconds_text(std::chrono::milliseconds t) {
  std::ostringstream out;
  out << static_cast<double>(t.count()) / 1000.0 << " s";
  return out.str();
}

}  // namespace

DistributedEnv DistributedEnv::from_environment() {
  DistributedEnv env;
  const bool has_rank = std::getenv("RANK") != nullptr;
  const bool has_world = std::getenv("WORLD_SIZE") != nullptr;
  if (has_rank != has_world)
    throw Error(std::string("environment variable ") + (has_rank ? "RANK" : "WORLD_SIZE") +
                " is set but " + (has_rank ? "WORLD_SIZE" : "RANK") +
                " is not: a distributed run needs both (as torchrun sets them)");
  env.world_size = env_int("WORLD_SIZE", 1, 1, 1 << 20);
  env.rank = env_int("RANK", 0, 0, 1 << 20);
  if (env.rank >= env.world_size)
    throw Error("environment variable RANK=" + std::to_string(env.rank) +
                " is not below WORLD_SIZE=" + std::to_string(env.world_size));
  env.local_rank = env_int("LOCAL_RANK", env.rank, 0, 1 << 20);
  if (const char* addr = std::getenv("MASTER_ADDR"); addr != nullptr && *addr != '\0')
    env.master_addr = addr;
  env.master_port = env_int("MASTER_PORT", env.master_port, 1, 65535);
  return env;
}

struct DistributedContext::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  std::string backend = "none";
};

DistributedContext::DistributedContext(const DistributedEnv& env, DistributedOptions options)
    : env_(env), options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  if (options_.backend != "auto" && options_.backend != "gloo" && options_.backend != "nccl")
    throw Error("distributed backend '" + options_.backend + "' is not one of auto, gloo, nccl");
  if (env_.world_size < 1 || env_.rank < 0 || env_.rank >= env_.world_size)
    throw Error("distributed rank " + std::to_string(env_.rank) + " of world size " +
                std::to_string(env_.world_size) + " is out of range");
  if (!distributed()) return;

  std::string backend = options_.backend;
#ifdef USE_C10D_NCCL
  if (backend == "auto") backend = at::hasCUDA() ? "nccl" : "gloo";
#else
  if (backend == "nccl")
    throw Error(
        "distributed backend 'nccl' needs a LibTorch built with CUDA and NCCL; this one has "
        "only Gloo");
  if (backend == "auto") backend = "gloo";
#endif

  const std::string where = "rank " + std::to_string(env_.rank) + " of " +
                            std::to_string(env_.world_size) + ": rendezvous at " +
                            env_.master_addr + ":" + std::to_string(env_.master_port);
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(env_.master_port);
    store_options.isServer = env_.rank == 0;
    store_options.numWorkers = static_cast<std::size_t>(env_.world_size);
    store_options.waitWorkers = true;
    store_options.timeout = options_.timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(env_.master_addr, store_options);
  } catch (const std::exception& e) {
    throw Error(where + " failed (" + cause_of(e) + "); within the timeout of " +
                seconds_text(options_.timeout) +
                " every rank must start and reach MASTER_ADDR:MASTER_PORT, and rank 0 must be "
                "able to listen on that port");
  }
  try {
    if (backend == "gloo") {
      auto gloo_options = c10d::ProcessGroupGloo::Options::create(options_.timeout);
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
        gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      else if (is_loopback(env_.master_addr))
        gloo_options->devices.push_back(
            c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else
        gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, env_.rank,
                                                                 env_.world_size, gloo_options);
    } else {
#ifdef USE_C10D_NCCL
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = options_.timeout;
      impl_->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, env_.rank,
                                                                 env_.world_size, nccl_options);
#endif
    }
  } catch (const std::exception& e) {
    throw Error(where + ": creating the " + backend + " process group failed: " + cause_of(e));
  }
  impl_->backend = backend;
}

DistributedContext::~DistributedContext() = default;

std::string DistributedContext::backend() const { return impl_->backend; }

namespace {

// Waits for one collective, turning a failure (a peer that closed its sockets, a timeout) into an
// mbmd::Error that says what the run was doing and what to do next.
void wait_for(const c10::intrusive_ptr<c10d::Work>& work, const DistributedContext& context,
              const std::string& what) {
  try {
    work->wait();
  } catch (const std::exception& e) {
    throw Error("distributed run, rank " + std::to_string(context.rank()) + " of " +
                std::to_string(context.world_size()) + ": " + what + " failed: " + cause_of(e) +
                ". Another rank has stopped (it died, or hung for longer than the " +
                seconds_text(context.options().timeout) +
                " timeout), so this rank stops too; resume the run from its last checkpoint "
                "(--resume)");
  }
}

// Tensors grouped into flat chunks of one dtype and device, at most `max_bytes` each (a tensor
// larger than that gets a chunk of its own).
std::vector<std::vector<size_t>> plan_chunks(const std::vector<at::Tensor>& tensors,
                                             const std::vector<size_t>& order, int64_t max_bytes) {
  std::vector<std::vector<size_t>> chunks;
  std::vector<int64_t> chunk_bytes;
  // One open chunk per (dtype, device) so that interleaved dtypes do not split chunks.
  std::vector<std::pair<std::string, size_t>> open;
  for (size_t i : order) {
    const auto& t = tensors[i];
    const std::string key = std::string(c10::toString(t.scalar_type())) + t.device().str();
    const int64_t bytes = t.numel() * static_cast<int64_t>(t.element_size());
    auto it = std::find_if(open.begin(), open.end(), [&](const auto& o) { return o.first == key; });
    if (it != open.end() && chunk_bytes[it->second] + bytes <= max_bytes) {
      chunks[it->second].push_back(i);
      chunk_bytes[it->second] += bytes;
      continue;
    }
    chunks.push_back({i});
    chunk_bytes.push_back(bytes);
    if (it != open.end())
      it->second = chunks.size() - 1;
    else
      open.emplace_back(key, chunks.size() - 1);
  }
  return chunks;
}

}  // namespace

void DistributedContext::broadcast(const std::vector<at::Tensor>& tensors) {
  if (!distributed()) return;
  at::NoGradGuard no_grad;
  // Same model everywhere? Compare (count, total size, a hash of the shapes) with rank 0's.
  int64_t total = 0;
  uint64_t hash = 1469598103934665603ull;
  for (const auto& t : tensors) {
    total += t.numel();
    for (int64_t s : t.sizes()) hash = (hash ^ static_cast<uint64_t>(s + 1)) * 1099511628211ull;
    hash = (hash ^ 0xffull) * 1099511628211ull;
  }
  const auto local = at::tensor(
      {static_cast<int64_t>(tensors.size()), total, static_cast<int64_t>(hash >> 2)}, at::kLong);
  std::vector<at::Tensor> root{local.clone()};
  wait_for(impl_->group->broadcast(root), *this, "comparing the model with rank 0's");
  std::vector<at::Tensor> mismatch{at::ne(root[0], local).any().to(at::kLong).reshape({1})};
  c10d::AllreduceOptions max_options;
  max_options.reduceOp = c10d::ReduceOp::MAX;
  wait_for(impl_->group->allreduce(mismatch, max_options), *this,
           "comparing the model with rank 0's");
  if (mismatch[0].item<int64_t>() != 0)
    throw Error(
        "distributed run, rank " + std::to_string(rank()) +
        ": the ranks hold different models (rank 0: " + std::to_string(root[0][0].item<int64_t>()) +
        " tensors, " + std::to_string(root[0][1].item<int64_t>()) + " values; this rank: " +
        std::to_string(tensors.size()) + " tensors, " + std::to_string(total) +
        " values, or the shapes differ): every rank must run the same config");

  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (const auto& chunk : plan_chunks(tensors, order, 25 << 20)) {
    std::vector<at::Tensor> parts;
    for (size_t i : chunk) parts.push_back(tensors[i].reshape({-1}));
    std::vector<at::Tensor> flat{at::cat(parts)};
    wait_for(impl_->group->broadcast(flat), *this, "broadcasting rank 0's parameters");
    int64_t offset = 0;
    for (size_t i : chunk) {
      const auto& t = tensors[i];
      t.copy_(flat[0].slice(0, offset, offset + t.numel()).view(t.sizes()));
      offset += t.numel();
    }
  }
}

void DistributedContext::all_reduce_sum(at::Tensor& tensor) {
  if (!distributed()) return;
  std::vector<at::Tensor> list{tensor};
  wait_for(impl_->group->allreduce(list), *this, "all-reduce");
}

void DistributedContext::all_reduce_mean(at::Tensor& tensor) {
  if (!distributed()) return;
  all_reduce_sum(tensor);
  at::NoGradGuard no_grad;
  tensor.div_(world_size());
}

void DistributedContext::barrier() {
  if (!distributed()) return;
  wait_for(impl_->group->barrier(), *this, "barrier");
}

// ---------------------------------------------------------------------------------------------
// Gradient reducer.

struct GradientReducer::State {
  struct Bucket {
    std::vector<size_t> members;  // indices into params
    std::vector<int64_t> offsets;
    int64_t numel = 0;
    int pending = 0;  // members not yet ready in this iteration
    bool launched = false;
    at::Tensor buffer;
    c10::intrusive_ptr<c10d::Work> work;
  };

  DistributedContext* context = nullptr;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  std::vector<at::Tensor> params;
  std::vector<Bucket> buckets;
  std::vector<std::vector<size_t>> layout;
  std::vector<size_t> bucket_of;  // param -> bucket
  std::vector<bool> ready;        // param got its gradient in this iteration
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;
  std::vector<uintptr_t> hook_keys;
  size_t next_to_launch = 0;
  int64_t max_bucket_bytes = 0;
  std::vector<size_t> arrival;   // parameters in the order their gradients arrived
  bool rebuild_pending = false;  // set when hooks are installed: rebuild after iteration 1
  int64_t launched_in_backward = 0;
  int64_t last_launched_in_backward = 0;
  std::mutex mutex;

  State(DistributedContext& ctx, c10::intrusive_ptr<c10d::ProcessGroup> process_group,
        const std::vector<at::Tensor>& all_params, int64_t bucket_bytes)
      : context(&ctx), group(std::move(process_group)) {
    if (bucket_bytes <= 0)
      throw Error("gradient bucket size must be positive, got " + std::to_string(bucket_bytes));
    for (const auto& p : all_params)
      if (p.defined() && p.requires_grad()) params.push_back(p);
    max_bucket_bytes = bucket_bytes;
    // Reverse registration order: backward produces the last layers' gradients first.
    std::vector<size_t> order(params.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = params.size() - 1 - i;
    build_buckets(order);
    ready.assign(params.size(), false);
    reset_iteration();
  }

  void build_buckets(const std::vector<size_t>& order) {
    layout = plan_chunks(params, order, max_bucket_bytes);
    buckets.clear();
    bucket_of.assign(params.size(), 0);
    for (size_t b = 0; b < layout.size(); ++b) {
      Bucket bucket;
      bucket.members = layout[b];
      for (size_t i : bucket.members) {
        bucket_of[i] = b;
        bucket.offsets.push_back(bucket.numel);
        bucket.numel += params[i].numel();
      }
      bucket.buffer =
          at::empty({bucket.numel}, params[bucket.members[0]].options().requires_grad(false));
      buckets.push_back(std::move(bucket));
    }
  }

  // After the first iteration, as DDP does: rebuild the buckets in the order in which backward
  // actually produced the gradients (rank 0's order, so that every rank agrees), with
  // parameters that got none at the end, where they no longer hold back the buckets before them.
  void rebuild_buckets_in_arrival_order() {
    std::vector<bool> seen(params.size(), false);
    std::vector<int64_t> order;
    for (size_t i : arrival) {
      order.push_back(static_cast<int64_t>(i));
      seen[i] = true;
    }
    for (size_t k = params.size(); k-- > 0;)
      if (!seen[k]) order.push_back(static_cast<int64_t>(k));
    std::vector<at::Tensor> list{at::tensor(order, at::kLong)};
    wait_for(group->broadcast(list), *context, "agreeing on the gradient bucket order");
    const auto* root_order = list[0].data_ptr<int64_t>();
    build_buckets(std::vector<size_t>(root_order, root_order + params.size()));
  }

  // Marks every parameter with a defined gradient ready (all_reduce_gradients after backward).
  void mark_defined_ready() {
    for (size_t i = 0; i < params.size(); ++i)
      if (params[i].grad().defined()) ready[i] = true;
  }

  void install_hooks() {
    for (size_t i = 0; i < params.size(); ++i) {
      // Holding the accumulator keeps it (and so the hook) alive across iterations: the
      // variable itself holds it only weakly.
      auto accumulator = torch::autograd::impl::grad_accumulator(params[i]);
      if (!accumulator)
        throw Error("GradientReducer: parameter " + std::to_string(i) +
                    " is not a leaf that requires grad");
      std::weak_ptr<State> self = weak_self;
      const auto key =
          accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
              [self, i](const torch::autograd::variable_list& outputs,
                        const torch::autograd::variable_list&) {
                if (auto state = self.lock()) state->mark_ready(i);
                return outputs;
              }));
      accumulators.push_back(std::move(accumulator));
      hook_keys.push_back(key);
    }
  }

  void remove_hooks() {
    for (size_t i = 0; i < accumulators.size(); ++i) accumulators[i]->del_post_hook(hook_keys[i]);
    accumulators.clear();
    hook_keys.clear();
  }

  std::weak_ptr<State> weak_self;

  void reset_iteration() {
    for (auto& b : buckets) {
      b.pending = static_cast<int>(b.members.size());
      b.launched = false;
      b.work.reset();
    }
    std::fill(ready.begin(), ready.end(), false);
    arrival.clear();
    next_to_launch = 0;
    launched_in_backward = 0;
  }

  void launch(size_t b) {
    auto& bucket = buckets[b];
    at::NoGradGuard no_grad;
    for (size_t k = 0; k < bucket.members.size(); ++k) {
      const size_t i = bucket.members[k];
      auto slot = bucket.buffer.slice(0, bucket.offsets[k], bucket.offsets[k] + params[i].numel());
      const auto& grad = params[i].grad();
      if (ready[i] && grad.defined())
        slot.view(params[i].sizes()).copy_(grad);
      else
        slot.zero_();  // no gradient on this rank: it contributes zero to the average
    }
    // Dividing before summing, as DDP does, keeps large sums from overflowing in half precision.
    bucket.buffer.div_(context->world_size());
    std::vector<at::Tensor> list{bucket.buffer};
    bucket.work = group->allreduce(list);
    bucket.launched = true;
  }

  // Launches every complete bucket from next_to_launch on, in order (collectives must be issued
  // in the same order on every rank).
  void launch_ready() {
    while (next_to_launch < buckets.size() && buckets[next_to_launch].pending == 0) {
      launch(next_to_launch++);
      ++launched_in_backward;
    }
  }

  void mark_ready(size_t i) {
    std::lock_guard<std::mutex> lock(mutex);
    if (ready[i])
      throw Error(
          "GradientReducer: a parameter received a second gradient before finish() (two "
          "backward passes per step are not supported; call finish() after each backward)");
    ready[i] = true;
    arrival.push_back(i);
    if (--buckets[bucket_of[i]].pending == 0) launch_ready();
  }

  void finish() {
    std::lock_guard<std::mutex> lock(mutex);
    last_launched_in_backward = launched_in_backward;
    try {
      while (next_to_launch < buckets.size()) launch(next_to_launch++);
      // Which parameters got a gradient anywhere: those that got none on every rank keep an
      // undefined grad (a single process would not have one either).
      auto used = at::zeros({static_cast<int64_t>(params.size())}, at::kInt);
      auto used_data = used.data_ptr<int>();
      for (size_t i = 0; i < params.size(); ++i) used_data[i] = ready[i] ? 1 : 0;
      std::vector<at::Tensor> used_list{used};
      auto used_work = group->allreduce(used_list);
      for (size_t b = 0; b < buckets.size(); ++b)
        wait_for(buckets[b].work, *context,
                 "all-reduce of gradient bucket " + std::to_string(b + 1) + " of " +
                     std::to_string(buckets.size()));
      wait_for(used_work, *context, "all-reduce of the used-parameter map");

      at::NoGradGuard no_grad;
      for (auto& bucket : buckets) {
        for (size_t k = 0; k < bucket.members.size(); ++k) {
          const size_t i = bucket.members[k];
          if (used_data[i] == 0) continue;
          auto& param = params[i];
          auto average =
              bucket.buffer.slice(0, bucket.offsets[k], bucket.offsets[k] + param.numel())
                  .view(param.sizes());
          if (param.grad().defined())
            param.mutable_grad().copy_(average);
          else
            param.mutable_grad() = average.clone();
        }
      }
      if (rebuild_pending) {
        rebuild_pending = false;
        rebuild_buckets_in_arrival_order();
      }
    } catch (...) {
      reset_iteration();
      throw;
    }
    reset_iteration();
  }
};

GradientReducer::GradientReducer(DistributedContext& context, std::vector<at::Tensor> params,
                                 int64_t bucket_bytes) {
  if (!context.distributed()) return;
  state_ = std::make_shared<State>(context, context.impl_->group, params, bucket_bytes);
  state_->weak_self = state_;
  state_->install_hooks();
  state_->rebuild_pending = true;
}

GradientReducer::~GradientReducer() {
  if (state_) state_->remove_hooks();
}

void GradientReducer::finish() {
  if (state_) state_->finish();
}

const std::vector<std::vector<size_t>>& GradientReducer::buckets() const {
  static const std::vector<std::vector<size_t>> none;
  return state_ ? state_->layout : none;
}

int64_t GradientReducer::buckets_launched_during_backward() const {
  return state_ ? state_->last_launched_in_backward : 0;
}

void DistributedContext::all_reduce_gradients(const std::vector<at::Tensor>& params,
                                              int64_t bucket_bytes) {
  if (!distributed()) return;
  GradientReducer::State state(*this, impl_->group, params, bucket_bytes);
  state.mark_defined_ready();
  state.finish();
}

// ---------------------------------------------------------------------------------------------
// Sharding.

std::vector<size_t> shard_positions(size_t num_items, int rank, int world_size, ShardMode mode) {
  if (num_items == 0) throw Error("cannot shard an empty epoch across ranks");
  if (world_size < 1 || rank < 0 || rank >= world_size)
    throw Error("shard of rank " + std::to_string(rank) + " of world size " +
                std::to_string(world_size) + " is out of range");
  const size_t world = static_cast<size_t>(world_size);
  const size_t per_rank = (num_items + world - 1) / world;
  std::vector<size_t> positions(per_rank);
  for (size_t k = 0; k < per_rank; ++k) {
    // A position in the padded order; the padding repeats the order from its start.
    const size_t padded = mode == ShardMode::kStrided ? static_cast<size_t>(rank) + k * world
                                                      : static_cast<size_t>(rank) * per_rank + k;
    positions[k] = padded % num_items;
  }
  return positions;
}

ShardMode shard_mode_from_string(const std::string& name) {
  if (name == "strided") return ShardMode::kStrided;
  if (name == "contiguous") return ShardMode::kContiguous;
  throw Error("shard mode '" + name + "' is not one of strided, contiguous");
}

}  // namespace mbmd::engine
