// Writing the project's checkpoint format: a zip archive laid out as torch.save lays it out
// (archive/data.pkl, archive/data/<key>, archive/version), whose pickle (protocol 2) Python reads
// as {"state_dict": OrderedDict, "<section>": OrderedDict, ..., "meta": "<json text>"}.
#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>

#include "mbmd/core/error.h"
#include "mbmd/io/checkpoint.h"

namespace mbmd::io {

namespace fs = std::filesystem;

namespace {

const char* storage_class(at::ScalarType dtype, const std::string& where) {
  switch (dtype) {
    case at::kFloat:
      return "FloatStorage";
    case at::kDouble:
      return "DoubleStorage";
    case at::kHalf:
      return "HalfStorage";
    case at::kBFloat16:
      return "BFloat16Storage";
    case at::kLong:
      return "LongStorage";
    case at::kInt:
      return "IntStorage";
    case at::kShort:
      return "ShortStorage";
    case at::kChar:
      return "CharStorage";
    case at::kByte:
      return "ByteStorage";
    case at::kBool:
      return "BoolStorage";
    case at::kComplexFloat:
      return "ComplexFloatStorage";
    case at::kComplexDouble:
      return "ComplexDoubleStorage";
    default:
      throw Error(where + ": tensors of type " + std::string(c10::toString(dtype)) +
                  " cannot be saved");
  }
}

// Emits the pickle opcodes Python's pickle module reads (protocol 2 only).
class PickleWriter {
 public:
  PickleWriter() {
    op(0x80);  // PROTO 2
    op(2);
  }
  std::string& bytes() { return out_; }

  void op(uint8_t code) { out_.push_back(static_cast<char>(code)); }
  void mark() { op('('); }
  void tuple() { op('t'); }
  void empty_tuple() { op(')'); }
  void empty_dict() { op('}'); }
  void set_items() { op('u'); }
  void reduce() { op('R'); }
  void binpersid() { op('Q'); }
  void boolean(bool b) { op(b ? 0x88 : 0x89); }
  void stop() { op('.'); }

  void text(const std::string& s) {
    op('X');  // BINUNICODE
    u32(static_cast<uint32_t>(s.size()));
    out_ += s;
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      op('K');
      op(static_cast<uint8_t>(v));
    } else if (v >= 0 && v < 65536) {
      op('M');
      op(static_cast<uint8_t>(v & 0xff));
      op(static_cast<uint8_t>(v >> 8));
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      op('J');
      u32(static_cast<uint32_t>(static_cast<int32_t>(v)));
    } else {
      op(0x8a);  // LONG1 with 8 bytes of two's complement
      op(8);
      const auto u = static_cast<uint64_t>(v);
      for (int k = 0; k < 8; ++k) op(static_cast<uint8_t>(u >> (8 * k)));
    }
  }
  // GLOBAL, memoised so that each class is named once.
  void global(const std::string& module, const std::string& name) {
    const std::string key = module + "\n" + name + "\n";
    auto it = memo_.find(key);
    if (it != memo_.end()) {
      op('j');  // LONG_BINGET
      u32(it->second);
      return;
    }
    op('c');
    out_ += key;
    const auto id = static_cast<uint32_t>(memo_.size());
    memo_[key] = id;
    op('r');  // LONG_BINPUT
    u32(id);
  }
  void ordered_dict_start() {
    global("collections", "OrderedDict");
    empty_tuple();
    reduce();
  }

 private:
  void u32(uint32_t v) {
    for (int k = 0; k < 4; ++k) op(static_cast<uint8_t>(v >> (8 * k)));
  }
  std::string out_;
  std::map<std::string, uint32_t> memo_;
};

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
    const char* storage = storage_class(tensor.scalar_type(), where + " '" + name + "'");
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

std::string temporary_name(const std::string& path) {
  static std::atomic<int> counter{0};
  return path + ".tmp" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
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

  const std::string tmp = temporary_name(path);
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
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp);
    throw Error(where + ": cannot be written (renaming " + tmp + " failed: " + ec.message() + ")");
  }
}

}  // namespace mbmd::io
