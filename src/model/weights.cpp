#include "mbmd/model/weights.h"

#include <algorithm>
#include <map>
#include <set>

#include "mbmd/core/error.h"

namespace mbmd::model {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Replaces `from` at the start of `name` by `to`.
bool rewrite_prefix(std::string& name, const std::string& from, const std::string& to) {
  if (!starts_with(name, from)) return false;
  name = to + name.substr(from.size());
  return true;
}

std::string detect_format(const io::StateDict& sd) {
  bool torchvision = false, resnet = false;
  for (const auto& [name, t] : sd) {
    if (starts_with(name, "backbone.body.") || starts_with(name, "rpn.head.") ||
        starts_with(name, "roi_heads."))
      torchvision = true;
    if (starts_with(name, "layer1.") || name == "conv1.weight") resnet = true;
  }
  if (torchvision) return "torchvision";
  if (resnet) return "resnet";
  return "mbmd";
}

// torchvision's FPN keeps its blocks as `inner_blocks.i.0` / `layer_blocks.i.0` (0.13+) or
// `inner_blocks.i` (older releases).
std::string fpn_block(const std::string& rest, const std::string& target) {
  // rest: "<i>.0.weight" or "<i>.weight"
  const auto dot = rest.find('.');
  const std::string index = rest.substr(0, dot);
  std::string tail = rest.substr(dot + 1);
  if (starts_with(tail, "0.")) tail = tail.substr(2);
  return "neck." + target + "." + index + ".conv." + tail;
}

}  // namespace

std::string torchvision_to_mmdet_name(const std::string& original) {
  std::string name = original;
  if (rewrite_prefix(name, "backbone.body.", "backbone.")) return name;
  if (rewrite_prefix(name, "backbone.fpn.inner_blocks.", ""))
    return fpn_block(name, "lateral_convs");
  if (rewrite_prefix(name, "backbone.fpn.layer_blocks.", "")) return fpn_block(name, "fpn_convs");
  if (rewrite_prefix(name, "rpn.head.conv.0.0.", "rpn_head.rpn_conv.")) return name;
  if (rewrite_prefix(name, "rpn.head.conv.", "rpn_head.rpn_conv.")) return name;
  if (rewrite_prefix(name, "rpn.head.cls_logits.", "rpn_head.rpn_cls.")) return name;
  if (rewrite_prefix(name, "rpn.head.bbox_pred.", "rpn_head.rpn_reg.")) return name;
  if (rewrite_prefix(name, "roi_heads.box_head.fc6.", "roi_head.bbox_head.shared_fcs.0."))
    return name;
  if (rewrite_prefix(name, "roi_heads.box_head.fc7.", "roi_head.bbox_head.shared_fcs.1."))
    return name;
  if (rewrite_prefix(name, "roi_heads.box_predictor.cls_score.", "roi_head.bbox_head.fc_cls."))
    return name;
  if (rewrite_prefix(name, "roi_heads.box_predictor.bbox_pred.", "roi_head.bbox_head.fc_reg."))
    return name;
  return "";
}

io::StateDict model_state_dict(const torch::nn::Module& model) {
  io::StateDict out;
  for (const auto& item : model.named_parameters()) out.emplace_back(item.key(), item.value());
  for (const auto& item : model.named_buffers()) out.emplace_back(item.key(), item.value());
  return out;
}

LoadReport load_weights(torch::nn::Module& model, const io::StateDict& state_dict,
                        const std::string& origin, bool skip_mismatched) {
  LoadReport report;
  report.format = detect_format(state_dict);
  std::map<std::string, at::Tensor> targets;
  for (auto& [name, tensor] : model_state_dict(model)) targets[name] = tensor;

  std::set<std::string> filled;
  torch::NoGradGuard no_grad;
  for (const auto& [file_name, tensor] : state_dict) {
    std::string name = file_name;
    if (report.format == "torchvision") name = torchvision_to_mmdet_name(file_name);
    if (report.format == "resnet")
      name = starts_with(file_name, "fc.") ? "" : "backbone." + file_name;
    if (starts_with(name, "module.")) name = name.substr(7);  // DataParallel / DDP prefixes
    const auto target = targets.find(name);
    if (name.empty() || target == targets.end()) {
      if (!ends_with(file_name, "num_batches_tracked")) report.unexpected.push_back(file_name);
      continue;
    }
    if (skip_mismatched && tensor.defined() && target->second.sizes() != tensor.sizes()) {
      report.mismatched.push_back(name);
      continue;
    }
    if (!tensor.defined() || target->second.sizes() != tensor.sizes())
      throw Error(origin + ": tensor '" + file_name + "' has shape " +
                  (tensor.defined() ? c10::str(tensor.sizes()) : std::string("undefined")) +
                  " but the model's '" + name + "' has shape " + c10::str(target->second.sizes()) +
                  " (a checkpoint for another config or number of classes?)");
    target->second.copy_(tensor.to(target->second.dtype()));
    filled.insert(name);
    report.loaded.push_back(name);
  }
  for (const auto& [name, tensor] : targets) {
    if (filled.count(name) || ends_with(name, "num_batches_tracked")) continue;
    if (std::find(report.mismatched.begin(), report.mismatched.end(), name) !=
        report.mismatched.end())
      continue;
    // An ImageNet file only covers the backbone; the rest is not "missing" from it.
    if (report.format == "resnet" && !starts_with(name, "backbone.")) continue;
    report.missing.push_back(name);
  }
  return report;
}

}  // namespace mbmd::model
