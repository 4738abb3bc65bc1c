// Reading torch.save files: the zip format through LibTorch's PyTorchStreamReader, the legacy
// format directly, both through the project's unpickler (LibTorch's own turns OrderedDicts into
// None; docs/design.md, "Checkpoints").
#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "mbmd/core/error.h"
#include "mbmd/io/checkpoint.h"
#include "mbmd/io/pickle.h"
#include "zip_directory.h"

// Built with AddressSanitizer (scripts/sanitize.sh, the fuzz targets): LeakSanitizer's interface.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MBMD_WITH_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MBMD_WITH_ASAN 1
#endif
#ifdef MBMD_WITH_ASAN
#include <sanitizer/lsan_interface.h>
#endif

namespace mbmd::io {

namespace fs = std::filesystem;
using Kind = PickleValue::Kind;
using Json = nlohmann::json;

namespace {

// The first pickle of a legacy file: torch.serialization.MAGIC_NUMBER, 0x1950a86a20f9469cfc6c,
// as the little-endian bytes LONG1 stores.
const uint8_t kLegacyMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
const int64_t kLegacyProtocolVersion = 1001;

std::string prefix(const std::string& path) { return "checkpoint " + path; }

std::string first_line(const char* message) {
  std::string s(message);
  const auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

// A storage as the persistent id names it: ('storage', storage_type, key, location, numel, ...).
struct StorageId {
  at::ScalarType dtype;
  std::string key;
  int64_t numel;
};

StorageId parse_storage_id(const PickleValue& pid, const std::string& where) {
  if (pid.kind != Kind::Tuple || pid.items.size() < 5 || !pid.items[0]->is_string() ||
      pid.items[0]->text != "storage") {
    throw Error(where + ": unsupported persistent id " + pid.describe() +
                " (expected ('storage', type, key, location, numel))");
  }
  const PickleValue& type = *pid.items[1];
  const PickleValue& key = *pid.items[2];
  const PickleValue& numel = *pid.items[4];
  if (type.kind != Kind::Global) throw Error(where + ": storage type is " + type.describe());
  if (numel.kind != Kind::Int || numel.integer < 0) {
    throw Error(where + ": storage size is " + numel.describe());
  }
  StorageId id{storage_dtype(type.text, where), "", numel.integer};
  if (key.is_string()) {
    id.key = key.text;
  } else if (key.kind == Kind::Int) {
    id.key = std::to_string(key.integer);
  } else {
    throw Error(where + ": storage key is " + key.describe());
  }
  return id;
}

PickleRef storage_value(at::Tensor storage) {
  auto v = std::make_shared<PickleValue>();
  v->kind = Kind::Storage;
  v->tensor = std::move(storage);
  return v;
}

// ---- zip format ---------------------------------------------------------------------------

// The storage that record `record` (`nbytes` bytes at `data`) holds for the persistent id `id`.
PickleRef zip_storage(const StorageId& id, at::DataPtr data, size_t nbytes,
                      const std::string& record, const std::string& where) {
  // Compared by division: the element count comes from the file, and a product could wrap.
  const size_t element = at::elementSize(id.dtype);
  if (static_cast<uint64_t>(id.numel) > nbytes / element) {
    throw Error(where + ": record " + record + " holds " + std::to_string(nbytes) +
                " bytes, its tensor needs " + std::to_string(id.numel) + " elements of " +
                std::to_string(element) + " bytes");
  }
  const size_t need = static_cast<size_t>(id.numel) * element;
  c10::Storage storage(c10::Storage::use_byte_size_t(), need, std::move(data), nullptr,
                       /*resizable=*/false);
  return storage_value(
      at::empty({0}, at::TensorOptions().dtype(id.dtype)).set_(storage, 0, {id.numel}, {1}));
}

PickleRef read_zip(const std::string& path) {
  const std::string where = prefix(path);
  // The reader allocates the size each record claims (its constructor already reads one), so
  // every claim is checked against the file first; a file without a complete directory at its
  // end is refused here as truncated.
  std::error_code ec;
  const auto file_size = static_cast<uint64_t>(fs::file_size(path, ec));
  if (ec) throw Error(where + ": cannot be read (" + ec.message() + ")");
  detail::check_zip_sizes(detail::read_zip_directory(path, where), file_size, where);
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  try {
#ifdef MBMD_WITH_ASAN
    // LibTorch 1.13's constructor leaks miniz's archive state (~300 bytes) when it throws after
    // opening the archive (no version record, no top folder); a LibTorch bug, not ours.
    __lsan::ScopedDisabler libtorch_leaks_when_it_refuses_a_zip;
#endif
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    throw Error(where + ": a zip archive but not a PyTorch checkpoint (" +
                first_line(e.what_without_backtrace()) + ")");
  } catch (const std::exception& e) {
    // LibTorch reads the version record with std::stoull, whose out_of_range escapes as it is.
    throw Error(where +
                ": a zip archive but not a PyTorch checkpoint (version record: " + e.what() + ")");
  }
  try {
    if (reader->hasRecord("constants.pkl") || reader->hasRecord("model.json")) {
      throw Error(where + ": a TorchScript archive (torch.jit.save), not a torch.save checkpoint");
    }
    if (!reader->hasRecord("data.pkl")) {
      throw Error(where + ": not a PyTorch checkpoint (zip archive without data.pkl)");
    }
    auto [pkl, pkl_size] = reader->getRecord("data.pkl");
    std::map<std::string, PickleRef> storages;
    PersistentLoad load = [&](const PickleValue& pid) {
      const StorageId id = parse_storage_id(pid, where + " (data.pkl)");
      auto it = storages.find(id.key);
      if (it != storages.end()) return it->second;
      const std::string record = "data/" + id.key;
      if (!reader->hasRecord(record)) throw Error(where + ": record " + record + " is missing");
      auto [data, nbytes] = reader->getRecord(record);
      return storages[id.key] = zip_storage(id, std::move(data), nbytes, record, where);
    };
    return unpickle(static_cast<const uint8_t*>(pkl.get()), pkl_size, where + " (data.pkl)", load);
  } catch (const c10::Error& e) {
    throw Error(where + ": corrupt zip archive (" + first_line(e.what_without_backtrace()) + ")");
  }
}

// ---- legacy format ------------------------------------------------------------------------

// The storages' data, which follows the pickles: for each key of `keys` an int64 element count
// and the elements, copied into the storage of that key in `roots`. Every storage gets its data.
void read_legacy_storages(const PickleValue& keys, const std::vector<uint8_t>& bytes, size_t pos,
                          std::map<std::string, at::Tensor>& roots, const std::string& where) {
  std::map<std::string, bool> filled;
  for (const auto& key_value : keys.items) {
    if (!key_value->is_string())
      throw Error(where + ": corrupt storage key " + key_value->describe());
    const std::string& key = key_value->text;
    auto it = roots.find(key);
    if (it == roots.end()) throw Error(where + ": corrupt: data for unknown storage " + key);
    at::Tensor& root = it->second;
    if (bytes.size() - pos < 8) throw Error(where + ": truncated (storage " + key + " is missing)");
    int64_t count = 0;
    for (int k = 0; k < 8; ++k) count |= static_cast<int64_t>(bytes[pos + k]) << (8 * k);
    pos += 8;
    if (count != root.numel()) {
      throw Error(where + ": corrupt: storage " + key + " has " + std::to_string(count) +
                  " elements, the object expects " + std::to_string(root.numel()));
    }
    const size_t nbytes = static_cast<size_t>(count) * root.element_size();
    if (bytes.size() - pos < nbytes) {
      throw Error(where + ": truncated (storage " + key + " needs " + std::to_string(nbytes) +
                  " bytes, " + std::to_string(bytes.size() - pos) + " left)");
    }
    if (nbytes > 0) std::memcpy(root.data_ptr(), bytes.data() + pos, nbytes);
    pos += nbytes;
    filled[key] = true;
  }
  for (const auto& [key, root] : roots) {
    if (!filled.count(key))
      throw Error(where + ": truncated or corrupt: storage " + key + " has no data");
  }
}

PickleRef read_legacy(const std::string& path) {
  const std::string where = prefix(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(where + ": cannot be opened");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  const uint8_t* data = bytes.data();
  size_t pos = 0;
  auto next_pickle = [&](const std::string& what, const PersistentLoad& load) {
    size_t used = 0;
    PickleRef v = unpickle(data + pos, bytes.size() - pos, where + " (" + what + ")", load, &used);
    pos += used;
    return v;
  };

  const PickleRef magic = next_pickle("magic number", nullptr);
  if (magic->kind != Kind::BigInt || magic->text.size() != sizeof(kLegacyMagic) ||
      std::memcmp(magic->text.data(), kLegacyMagic, sizeof(kLegacyMagic)) != 0) {
    throw Error(where + ": not a PyTorch checkpoint (a pickle without torch.save's magic number)");
  }
  const PickleRef protocol = next_pickle("protocol version", nullptr);
  if (protocol->kind != Kind::Int || protocol->integer != kLegacyProtocolVersion) {
    throw Error(where + ": unsupported legacy protocol version " + protocol->describe());
  }
  const PickleRef sys_info = next_pickle("system info", nullptr);
  if (const PickleValue* le = sys_info->find("little_endian");
      le && le->kind == Kind::Bool && !le->boolean) {
    throw Error(where + ": written on a big-endian machine, which is not supported");
  }

  // Storages are allocated here and filled once their data, after the pickles, is reached.
  std::map<std::string, at::Tensor> roots;
  std::map<std::string, PickleRef> views;
  PersistentLoad load = [&](const PickleValue& pid) -> PickleRef {
    if (pid.kind == Kind::Tuple && !pid.items.empty() && pid.items[0]->is_string() &&
        pid.items[0]->text == "module") {
      // ('module', class, source_file, source) of a pickled nn.Module: kept as a placeholder.
      auto obj = std::make_shared<PickleValue>();
      obj->kind = Kind::Object;
      obj->text = pid.items.size() > 1 && pid.items[1]->kind == Kind::Global ? pid.items[1]->text
                                                                             : "module";
      return obj;
    }
    const StorageId id = parse_storage_id(pid, where + " (object)");
    auto it = roots.find(id.key);
    if (it == roots.end()) {
      // All data lies after the pickles, so no storage can be larger than the file.
      if (id.numel > static_cast<int64_t>(bytes.size() / at::elementSize(id.dtype))) {
        throw Error(where + ": truncated or corrupt: storage " + id.key + " of " +
                    std::to_string(id.numel) + " elements is larger than the file");
      }
      it = roots.emplace(id.key, at::empty({id.numel}, at::TensorOptions().dtype(id.dtype))).first;
    }
    const at::Tensor& root = it->second;
    // view_metadata (view_key, offset, view_size), in elements, from storage views of old files.
    if (pid.items.size() > 5 && pid.items[5]->kind == Kind::Tuple) {
      const auto& view = pid.items[5]->items;
      if (view.size() != 3 || !view[0]->is_string() || view[1]->kind != Kind::Int ||
          view[2]->kind != Kind::Int || view[1]->integer < 0 || view[2]->integer < 0 ||
          view[2]->integer > root.numel() - view[1]->integer) {
        throw Error(where + ": corrupt storage view of storage " + id.key);
      }
      auto v = views.find(view[0]->text);
      if (v != views.end()) return v->second;
      return views[view[0]->text] =
                 storage_value(root.narrow(0, view[1]->integer, view[2]->integer));
    }
    return storage_value(root);
  };
  const PickleRef object = next_pickle("object", load);
  const PickleRef keys = next_pickle("storage keys", nullptr);
  if (keys->kind != Kind::List) {
    throw Error(where + ": corrupt: the storage key list is " + keys->describe());
  }
  read_legacy_storages(*keys, bytes, pos, roots, where);
  return object;
}

// ---- interpretation -----------------------------------------------------------------------

bool is_dict_like(const PickleValue& v) {
  return v.kind == Kind::Dict || (v.kind == Kind::Object && !v.entries.empty());
}

bool is_tensor_dict(const PickleValue& v) {
  if (!is_dict_like(v)) return false;
  for (const auto& [key, value] : v.entries) {
    if (!key->is_string() || value->kind != Kind::Tensor) return false;
  }
  return true;
}

StateDict to_state_dict(const PickleValue& v, const std::string& where) {
  StateDict out;
  for (const auto& [key, value] : v.entries) {
    if (!key->is_string()) throw Error(where + " has the key " + key->describe());
    if (value->kind != Kind::Tensor) {
      throw Error(where + ": '" + key->text + "' holds " + value->describe() + ", not a tensor");
    }
    out.emplace_back(key->text, value->tensor);
  }
  return out;
}

Json meta_json(const PickleValue& meta, const std::string& where) {
  if (!meta.is_string()) return to_json(meta);
  // The project's own files store meta as JSON text. Bytes that are not UTF-8 become U+FFFD
  // first (the parser would refuse the text, and the JSON writer throws on such bytes), and the
  // text may nest no deeper than a pickle may (callers walk it recursively).
  const std::string text = valid_utf8(meta.text);
  const auto depth_limit = [&](int depth, Json::parse_event_t, Json&) {
    if (depth >= kMaxPickleNesting) {
      throw Error(where + ": meta JSON nesting deeper than " + std::to_string(kMaxPickleNesting) +
                  " levels");
    }
    return true;
  };
  Json parsed = Json::parse(text, depth_limit, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? Json(text) : parsed;
}

std::string key_list(const PickleValue& dict) {
  std::string out;
  for (const auto& entry : dict.entries) {
    if (!out.empty()) out += ", ";
    out += entry.first->is_string() ? "'" + entry.first->text + "'" : entry.first->describe();
    if (out.size() > 200) return out + ", ...";
  }
  return out;
}

Checkpoint interpret(const PickleValue& root, const std::string& path) {
  const std::string where = prefix(path);
  Checkpoint ckpt;
  if (is_tensor_dict(root)) {
    ckpt.state_dict = to_state_dict(root, where);
    return ckpt;
  }
  if (!is_dict_like(root)) {
    throw Error(where + ": no state dict inside (the top object is " + root.describe() + ")");
  }
  std::string state_key;
  for (const char* candidate : {"state_dict", "model"}) {
    if (const PickleValue* v = root.find(candidate)) {
      if (!is_dict_like(*v)) {
        throw Error(where + ": no state dict inside ('" + candidate + "' holds " + v->describe() +
                    ")");
      }
      state_key = candidate;
      ckpt.state_dict = to_state_dict(*v, where + " '" + state_key + "'");
      break;
    }
  }
  if (state_key.empty()) {
    throw Error(where + ": no state dict inside (no 'state_dict' or 'model' entry; keys are " +
                key_list(root) + ")");
  }
  for (const auto& [key, value] : root.entries) {
    if (!key->is_string() || key->text == state_key) continue;
    if (key->text == "meta") {
      ckpt.meta = meta_json(*value, where);
    } else if (is_tensor_dict(*value)) {
      ckpt.sections[key->text] = to_state_dict(*value, where + " '" + key->text + "'");
    }
  }
  return ckpt;
}

}  // namespace

Checkpoint load_checkpoint(const std::string& path) {
  const std::string where = prefix(path);
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(where + ": file not found");
  if (!fs::is_regular_file(path, ec)) throw Error(where + ": not a regular file");
  char head[512] = {};
  size_t got = 0;
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(where + ": cannot be opened");
    in.read(head, sizeof(head));
    got = static_cast<size_t>(in.gcount());
  }
  if (got == 0) throw Error(where + ": empty file, not a PyTorch checkpoint");
  PickleRef root;
  if (got >= 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) {
    root = read_zip(path);
  } else if (static_cast<uint8_t>(head[0]) == 0x80) {
    root = read_legacy(path);
  } else if (got >= 262 && std::memcmp(head + 257, "ustar", 5) == 0) {
    throw Error(where + ": the tar checkpoint format of PyTorch before 0.4 is not supported");
  } else {
    throw Error(where + ": not a PyTorch checkpoint (neither a zip archive nor a pickle)");
  }
  return interpret(*root, path);
}

StateDict load_state_dict(const std::string& path) { return load_checkpoint(path).state_dict; }

at::Tensor find_tensor(const StateDict& state_dict, const std::string& name) {
  for (const auto& [key, tensor] : state_dict) {
    if (key == name) return tensor;
  }
  return at::Tensor();
}

}  // namespace mbmd::io
