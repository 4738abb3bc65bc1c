// What a model run reads besides images: its config and PyTorch checkpoints.
#include <ATen/ATen.h>

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "mbmd/core/config.h"
#include "mbmd/io/checkpoint.h"
#include "mbmd/io/pickle.h"
#include "split_input.h"
#include "targets.h"

namespace mbmd::fuzz {
namespace {

using io::PickleRef;
using io::PickleValue;
using Kind = PickleValue::Kind;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A storage of zeros for torch's persistent id ('storage', type, key, location, numel), as a
// checkpoint's record would supply it; capped so that a claimed size costs no memory.
PickleRef zero_storage(const PickleValue& pid) {
  if (pid.kind != Kind::Tuple || pid.items.size() < 5 || pid.items[1]->kind != Kind::Global ||
      pid.items[4]->kind != Kind::Int) {
    throw Error("fuzz.pkl: unsupported persistent id " + pid.describe());
  }
  const at::ScalarType dtype = io::storage_dtype(pid.items[1]->text, "fuzz.pkl");
  const int64_t numel = std::clamp<int64_t>(pid.items[4]->integer, 0, 4096);
  auto storage = std::make_shared<PickleValue>();
  storage->kind = Kind::Storage;
  storage->tensor = at::zeros({numel}, at::TensorOptions().dtype(dtype));
  return storage;
}

}  // namespace

// A config file, optionally followed by `key=value` overrides, one a line.
int config_json(const uint8_t* data, size_t size) {
  const std::vector<std::string> parts = split_input(data, size, 2);
  const std::string path = write_input("config.json", parts[0]);
  return accept_named_errors([&] {
    Json config = load_config(path);
    apply_overrides(config, lines_of(parts[1]));
  });
}

int pickle(const uint8_t* data, size_t size) {
  return accept_named_errors([&] {
    const PickleRef value = io::unpickle(data, size, "fuzz.pkl", zero_storage);
    io::to_json(*value).dump();
  });
}

// Zip (torch.save since PyTorch 1.6) and legacy checkpoints: load_checkpoint tells them apart.
int checkpoint(const uint8_t* data, size_t size) {
  const std::string path = write_input("checkpoint.pth", data, size);
  return accept_named_errors([&] { io::load_checkpoint(path).meta.dump(); });
}

}  // namespace mbmd::fuzz
