// Writing the project's checkpoint format: a zip archive laid out as torch.save lays it out
// (archive/data.pkl, archive/data/<key>, archive/version), whose pickle (protocol 2) Python reads
// as {"state_dict": OrderedDict, "<section>": OrderedDict, ..., "meta": "<json text>"}.
#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>

#include <filesystem>
#include <fstream>

#include "mbmd/core/atomic_file.h"
#include "mbmd/core/error.h"
#include "mbmd/io/checkpoint.h"
#include "pickle_writer.h"
#include "torch_types.h"

namespace mbmd::io {

namespace fs = std::filesystem;

namespace {

using detail::PickleWriter;

struct Record {
  std::string name;
  at::Tensor data;  // contiguous, on the CPU
};

// OrderedDict(name -> tensor); each tensor gets a storage of its own.
void write_state_dict(PickleWriter& w, const StateDict& sd, std::vector<Record>& records,
                      const std::string& where) {
  w.ordered_dict_start();
  if (sd.empty()) return;
  w.mark();
  for (const auto& [name, tensor] : sd) {
    if (!tensor.defined()) throw Error(where + ": tensor '" + name + "' is undefined");
    const char* storage = detail::storage_class(tensor.scalar_type(), where + " '" + name + "'");
    at::Tensor data = tensor.detach().to(at::kCPU).contiguous();
    const std::string key = std::to_string(records.size());
    w.text(name);
    // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)
    w.global("torch._utils", "_rebuild_tensor_v2");
    w.mark();
    w.mark();
    w.text("storage");
    w.global("torch", storage);
    w.text(key);
    w.text("cpu");
    w.integer(data.numel());
    w.tuple();
    w.binpersid();
    w.integer(0);
    w.mark();
    for (int64_t s : data.sizes()) w.integer(s);
    w.tuple();
    w.mark();
    for (int64_t s : data.strides()) w.integer(s);
    w.tuple();
    w.boolean(false);
    w.ordered_dict_start();
    w.tuple();
    w.reduce();
    records.push_back({"data/" + key, data});
  }
  w.set_items();
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& ckpt) {
  const std::string where = "checkpoint " + path;
  for (const auto& [name, section] : ckpt.sections) {
    if (name == "state_dict" || name == "meta") {
      throw Error(where + ": a section may not be called '" + name + "'");
    }
  }
  std::string meta_text;
  try {
    meta_text = ckpt.meta.dump();
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": meta cannot be written as JSON: " + e.what());
  }

  PickleWriter w;
  std::vector<Record> records;
  w.empty_dict();
  w.mark();
  w.text("state_dict");
  write_state_dict(w, ckpt.state_dict, records, where);
  for (const auto& [name, section] : ckpt.sections) {
    w.text(name);
    write_state_dict(w, section, records, where + " section '" + name + "'");
  }
  w.text("meta");
  w.text(meta_text);
  w.set_items();
  w.stop();

  const std::string tmp = temporary_path_for(path);
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(where + ": cannot be written (cannot create " + tmp + ")");
  try {
    // The writer callback form names the top folder "archive", as torch.save does for streams.
    caffe2::serialize::PyTorchStreamWriter writer([&out](const void* buf, size_t n) -> size_t {
      out.write(static_cast<const char*>(buf), static_cast<std::streamsize>(n));
      return out ? n : 0;
    });
    writer.writeRecord("data.pkl", w.bytes().data(), w.bytes().size());
    for (const auto& record : records) {
      writer.writeRecord(record.name, record.data.data_ptr(), record.data.nbytes());
    }
    writer.writeEndOfFile();
    out.close();
    if (!out) throw Error(where + ": writing " + tmp + " failed");
  } catch (const c10::Error& e) {
    out.close();
    fs::remove(tmp);
    throw Error(where + ": writing failed (" + std::string(e.what_without_backtrace()) + ")");
  } catch (...) {
    out.close();
    fs::remove(tmp);
    throw;
  }
  replace_file(tmp, path);
}

}  // namespace mbmd::io
