// What the globals a pickle calls (REDUCE) become: dicts and OrderedDicts, tensors rebuilt over
// the storages the persistent-load function supplies, sets, bytes; anything else an Object
// placeholder that keeps its class name and arguments.
#include <ATen/ATen.h>

#include "pickle_machine.h"
#include "torch_types.h"

namespace mbmd::io::detail {

namespace {

// The integers of a size or stride tuple `what` passed to `fn`.
std::vector<int64_t> int_list(const PickleValue& v, const char* what, const std::string& fn,
                              const std::string& source) {
  if (v.kind != Kind::Tuple && v.kind != Kind::List) {
    throw Error(source + ": " + fn + ": " + what + " is " + v.describe() + ", expected a tuple");
  }
  std::vector<int64_t> out;
  for (const auto& item : v.items) {
    if (item->kind != Kind::Int) {
      throw Error(source + ": " + fn + ": " + what + " holds " + item->describe());
    }
    out.push_back(item->integer);
  }
  return out;
}

}  // namespace

PickleRef Unpickler::rebuild_tensor(const std::vector<PickleRef>& args, const std::string& fn,
                                    std::optional<at::ScalarType> dtype) {
  // _rebuild_tensor(storage, storage_offset, size, stride[, requires_grad, backward_hooks, ...])
  if (args.size() < 4) fail(fn + " called with " + std::to_string(args.size()) + " arguments");
  const PickleValue& storage = *args[0];
  if (storage.kind != Kind::Storage) fail(fn + ": first argument is " + storage.describe());
  if (args[1]->kind != Kind::Int) fail(fn + ": storage offset is " + args[1]->describe());
  const int64_t offset = args[1]->integer;
  const auto sizes = int_list(*args[2], "size", fn, source_);
  const auto strides = int_list(*args[3], "stride", fn, source_);
  if (sizes.size() != strides.size()) fail(fn + ": size and stride differ in length");
  if (offset < 0) fail(fn + ": negative storage offset");
  // The furthest element the view touches must lie inside the storage; sizes and strides come
  // from the file, so every product is checked for overflow (a wrapped one could pass the test).
  int64_t last = offset;
  int64_t count = 1;
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] < 0 || strides[d] < 0) fail(fn + ": negative size or stride");
    if (sizes[d] == 0) count = 0;
  }
  for (size_t d = 0; d < sizes.size() && count > 0; ++d) {
    int64_t reach = 0;
    if (__builtin_mul_overflow(sizes[d] - 1, strides[d], &reach) ||
        __builtin_add_overflow(last, reach, &last) ||
        __builtin_mul_overflow(count, sizes[d], &count)) {
      fail(fn + ": tensor size or stride too large");
    }
  }
  const bool empty = count == 0;
  // A typed storage counts elements of its own type; an untyped one (v3) is reinterpreted.
  const at::ScalarType type = dtype.value_or(storage.tensor.scalar_type());
  const auto element = static_cast<int64_t>(at::elementSize(type));
  const int64_t start_bytes = storage.tensor.storage_offset() * storage.tensor.element_size();
  if (start_bytes % element != 0) fail(fn + ": storage is not aligned to its tensor type");
  const int64_t numel = storage.tensor.numel() * storage.tensor.element_size() / element;
  if (!empty && last >= numel) {
    fail(fn + ": tensor (offset " + std::to_string(offset) + ", last element " +
         std::to_string(last) + ") reaches outside its storage of " + std::to_string(numel) +
         " elements");
  }
  auto t = make(Kind::Tensor);
  t->tensor = at::empty({0}, storage.tensor.options().dtype(type))
                  .set_(storage.tensor.storage(), start_bytes / element + offset, sizes, strides);
  return t;
}

PickleRef Unpickler::reduce(const PickleRef& callable, const PickleRef& args_value) {
  const std::vector<PickleRef> empty;
  const std::vector<PickleRef>& args =
      args_value->kind == Kind::Tuple || args_value->kind == Kind::List ? args_value->items : empty;
  const std::string name = callable->kind == Kind::Global ? callable->text : std::string();

  if (name == "collections.OrderedDict" || name == "builtins.dict" || name == "__builtin__.dict") {
    auto d = make(Kind::Dict);
    d->ordered = name == "collections.OrderedDict";
    // OrderedDict([(k, v), ...]) as older picklers wrote it.
    if (!args.empty() && (args[0]->kind == Kind::List || args[0]->kind == Kind::Tuple)) {
      std::vector<PickleRef> kv;
      for (const auto& pair : args[0]->items) {
        if ((pair->kind != Kind::Tuple && pair->kind != Kind::List) || pair->items.size() != 2) {
          fail(name + " built from " + pair->describe() + ", expected key-value pairs");
        }
        kv.push_back(pair->items[0]);
        kv.push_back(pair->items[1]);
      }
      set_items(*d, std::move(kv));
    } else if (!args.empty() && args[0]->kind == Kind::Dict) {
      for (const auto& [key, value] : args[0]->entries) {
        adopt(*d, *key);
        adopt(*d, *value);
      }
      d->entries = args[0]->entries;
    }
    return d;
  }
  if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
    return rebuild_tensor(args, name, std::nullopt);
  }
  if (name == "torch._utils._rebuild_tensor_v3") {
    // PyTorch 2: (untyped storage, offset, size, stride, requires_grad, hooks, dtype, ...).
    if (args.size() < 7 || args[6]->kind != Kind::Global) fail(name + " without a dtype");
    return rebuild_tensor(args, name, dtype_named(args[6]->text, source_));
  }
  if (name == "torch._utils._rebuild_parameter" ||
      name == "torch._utils._rebuild_parameter_with_state") {
    if (args.empty() || args[0]->kind != Kind::Tensor) fail(name + " without a tensor");
    return args[0];
  }
  if (name == "torch._tensor._rebuild_from_type_v2" || name == "torch._tensor._rebuild_from_type") {
    // (func, type, args, state): the tensor is func(*args); the subclass type is dropped.
    if (args.size() < 3) fail(name + " called with too few arguments");
    if (args[0]->text.rfind("torch._tensor._rebuild_from_type", 0) == 0) fail(name + " nested");
    return reduce(args[0], args[2]);
  }
  if (name == "copyreg._reconstructor" || name == "copy_reg._reconstructor") {
    // Protocols 0 and 1 write an instance as _reconstructor(cls, base, state) then BUILD.
    return make_object(!args.empty() && args[0]->kind == Kind::Global ? args[0]->text : name, {});
  }
  if (name == "_codecs.encode") {
    // Protocol 2 from Python 3 writes bytes as _codecs.encode(str, 'latin1').
    if (args.empty() || args[0]->kind != Kind::String) fail("_codecs.encode without text");
    std::string out;
    for (uint32_t cp : utf8_code_points(args[0]->text)) {
      out.push_back(static_cast<char>(cp & 0xff));
    }
    return make_string(std::move(out), Kind::Bytes);
  }
  if (name == "builtins.set" || name == "builtins.frozenset" || name == "__builtin__.set" ||
      name == "__builtin__.frozenset" || name == "torch.Size") {
    return make_container(name == "torch.Size" ? Kind::Tuple : Kind::List,
                          args.empty() ? std::vector<PickleRef>() : args[0]->items);
  }
  // Anything else: a placeholder that remembers what would have been built.
  return make_object(name.empty() ? "<call of " + callable->describe() + ">" : name, args);
}

}  // namespace mbmd::io::detail
