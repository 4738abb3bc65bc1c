#include "mbmd/train/optimizer.h"

#include <c10/util/string_utils.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/normalization.h>

#include <map>
#include <set>
#include <sstream>

#include "mbmd/core/error.h"

namespace mbmd::engine {
namespace {

// libtorch keys an optimiser's per-parameter state by the address of the tensor's impl.
std::string state_key(const at::Tensor& parameter) {
  std::ostringstream key;
  key << parameter.unsafeGetTensorImpl();
  return key.str();
}

bool is_bias(const std::string& name) {
  return name == "bias" || (name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0);
}

// The state keys of every BatchNorm and GroupNorm parameter.
std::set<std::string> norm_parameter_keys(torch::nn::Module& model) {
  std::set<std::string> keys;
  auto add = [&keys](const torch::nn::Module& module) {
    if (!module.as<torch::nn::BatchNorm2dImpl>() && !module.as<torch::nn::GroupNormImpl>()) return;
    for (const auto& p : module.parameters(/*recurse=*/false)) keys.insert(state_key(p));
  };
  add(model);  // modules() cannot hand out a top-level module that lives outside a shared_ptr
  for (const auto& module : model.modules(/*include_self=*/false)) add(*module);
  return keys;
}

}  // namespace

SgdSettings sgd_settings_from_config(const Json& config) {
  const Json& t = config_at(config, "train");
  SgdSettings s;
  s.momentum = t.at("momentum").get<double>();
  s.weight_decay = t.at("weight_decay").get<double>();
  if (!(s.momentum >= 0.0 && s.momentum < 1.0))
    throw Error("config key 'train.momentum' must be in [0, 1), got " + t.at("momentum").dump());
  if (!(s.weight_decay >= 0.0))
    throw Error("config key 'train.weight_decay' must be >= 0, got " + t.at("weight_decay").dump());
  s.norm_decay_mult = t.at("norm_decay_mult").get<double>();
  s.bias_decay_mult = t.at("bias_decay_mult").get<double>();
  if (!(s.norm_decay_mult >= 0.0))
    throw Error("config key 'train.norm_decay_mult' must be >= 0, got " +
                t.at("norm_decay_mult").dump());
  if (!(s.bias_decay_mult >= 0.0))
    throw Error("config key 'train.bias_decay_mult' must be >= 0, got " +
                t.at("bias_decay_mult").dump());
  return s;
}

std::unique_ptr<torch::optim::SGD> make_sgd(torch::nn::Module& model, const SgdSettings& s) {
  const auto norm_params = norm_parameter_keys(model);
  std::vector<at::Tensor> weights, norms, biases;
  for (const auto& item : model.named_parameters()) {
    const auto& p = item.value();
    if (!p.requires_grad()) continue;
    if (norm_params.count(state_key(p)))
      norms.push_back(p);
    else if (is_bias(item.key()))
      biases.push_back(p);
    else
      weights.push_back(p);
  }
  if (weights.empty() && norms.empty() && biases.empty())
    throw Error("the model has no trainable parameters");
  const auto options = torch::optim::SGDOptions(s.lr).momentum(s.momentum);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  const std::pair<std::vector<at::Tensor>*, double> by_decay[] = {
      {&weights, s.weight_decay},
      {&norms, s.weight_decay * s.norm_decay_mult},
      {&biases, s.weight_decay * s.bias_decay_mult}};
  for (const auto& [params, decay] : by_decay) {
    if (params->empty()) continue;
    auto group_options = std::make_unique<torch::optim::SGDOptions>(options);
    group_options->weight_decay(decay);
    groups.emplace_back(*params, std::move(group_options));
  }
  return std::make_unique<torch::optim::SGD>(std::move(groups), options);
}

void set_lr(torch::optim::SGD& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

io::StateDict momentum_buffers(const torch::optim::SGD& optimizer, const torch::nn::Module& model) {
  io::StateDict out;
  const auto& state = optimizer.state();
  for (const auto& item : model.named_parameters()) {
    if (!item.value().requires_grad()) continue;
    const auto it = state.find(state_key(item.value()));
    if (it == state.end()) continue;
    const auto& sgd_state = static_cast<const torch::optim::SGDParamState&>(*it->second);
    if (sgd_state.momentum_buffer().defined())
      out.emplace_back(item.key(), sgd_state.momentum_buffer().detach().to(at::kCPU).clone());
  }
  return out;
}

void restore_momentum_buffers(torch::optim::SGD& optimizer, const torch::nn::Module& model,
                              const io::StateDict& buffers, const std::string& origin) {
  std::map<std::string, at::Tensor> params;
  for (const auto& item : model.named_parameters()) params.emplace(item.key(), item.value());
  auto& state = optimizer.state();
  state.clear();
  for (const auto& [name, buffer] : buffers) {
    const auto it = params.find(name);
    if (it == params.end())
      throw Error(origin + ": momentum buffer '" + name + "' names no parameter of the model");
    if (!it->second.requires_grad())
      throw Error(origin + ": momentum buffer '" + name + "' belongs to a frozen parameter");
    if (buffer.sizes() != it->second.sizes())
      throw Error(origin + ": momentum buffer '" + name + "' has shape " +
                  c10::str(buffer.sizes()) + " but the parameter has " +
                  c10::str(it->second.sizes()));
    auto entry = std::make_unique<torch::optim::SGDParamState>();
    entry->momentum_buffer(buffer.to(it->second.options()).clone());
    state[state_key(it->second)] = std::move(entry);
  }
}

double clip_grad_norm(const torch::nn::Module& model, double max_norm) {
  std::vector<at::Tensor> grads;
  for (const auto& p : model.parameters())
    if (p.requires_grad() && p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0.0;
  at::Tensor total = at::zeros({}, grads[0].options().dtype(at::kDouble));
  for (const auto& g : grads) total += g.detach().to(at::kDouble).pow(2).sum();
  const double norm = std::sqrt(total.item<double>());
  const double factor = max_norm / (norm + 1e-6);
  if (factor < 1.0)
    for (auto& g : grads) g.mul_(factor);
  return norm;
}

}  // namespace mbmd::engine
