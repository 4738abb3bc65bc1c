// PyTorch checkpoints without Python (docs/design.md, "Checkpoints").
//
// load_checkpoint reads what torch.save writes: the zip format (PyTorch >= 1.6) and the legacy
// format (old torchvision ResNet files), whether the top object is a state_dict() itself, an
// mmdetection checkpoint {meta, state_dict, optimizer} or a torchvision training script's
// {model, optimizer, ...}. save_checkpoint writes the project's own format, a zip file that
// Python's torch.load reads as
//   {"state_dict": OrderedDict(name -> tensor), "<section>": OrderedDict(...), "meta": "<json>"}.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace mbmd::io {

// Parameter and buffer names with their tensors, in the order the file lists them.
using StateDict = std::vector<std::pair<std::string, at::Tensor>>;

struct Checkpoint {
  StateDict state_dict;
  // Other top-level entries that are dicts of tensors (for example momentum buffers by name).
  std::map<std::string, StateDict> sections;
  // The JSON-able part of the "meta" entry: str/int/float/bool/None/list/tuple/dict; objects of
  // other classes become strings ("<module.Class object>"). Null when there is no meta.
  nlohmann::json meta;
};

// Reads a torch.save file (zip or legacy). The state dict is the top object when that is a dict
// of tensors, else its "state_dict" entry, else its "model" entry. Tensors live on the CPU and
// keep the file's dtypes, strides and storage sharing. Throws mbmd::Error naming the file when it
// is missing, not a checkpoint, truncated or corrupt, uses an unsupported pickle opcode, or holds
// no state dict.
Checkpoint load_checkpoint(const std::string& path);

// load_checkpoint(path).state_dict.
StateDict load_state_dict(const std::string& path);

// Writes `ckpt` atomically (temporary file, then rename). Tensors are saved contiguous from the
// CPU; a section may not be called "state_dict" or "meta".
void save_checkpoint(const std::string& path, const Checkpoint& ckpt);

// The tensor called `name`, or an undefined tensor.
at::Tensor find_tensor(const StateDict& state_dict, const std::string& name);

}  // namespace mbmd::io
