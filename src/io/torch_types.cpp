// One table of the tensor types torch.save writes, read in every direction: the reader maps
// storage classes and dtype names to a ScalarType, the writer maps a ScalarType to its storage
// class.
#include "torch_types.h"

#include <cstring>

#include "mbmd/core/error.h"
#include "mbmd/io/pickle.h"

namespace mbmd::io {

namespace {

struct TorchType {
  at::ScalarType dtype;
  const char* storage;  // typed storage class, without "torch." or "torch.cuda."
  const char* name;     // the dtype as torch names it
  const char* alias;    // its other name, or nullptr
};

const TorchType kTorchTypes[] = {
    {at::kFloat, "FloatStorage", "torch.float32", "torch.float"},
    {at::kDouble, "DoubleStorage", "torch.float64", "torch.double"},
    {at::kHalf, "HalfStorage", "torch.float16", "torch.half"},
    {at::kBFloat16, "BFloat16Storage", "torch.bfloat16", nullptr},
    {at::kLong, "LongStorage", "torch.int64", "torch.long"},
    {at::kInt, "IntStorage", "torch.int32", "torch.int"},
    {at::kShort, "ShortStorage", "torch.int16", "torch.short"},
    {at::kChar, "CharStorage", "torch.int8", nullptr},
    {at::kByte, "ByteStorage", "torch.uint8", nullptr},
    {at::kBool, "BoolStorage", "torch.bool", nullptr},
    {at::kComplexFloat, "ComplexFloatStorage", "torch.complex64", nullptr},
    {at::kComplexDouble, "ComplexDoubleStorage", "torch.complex128", nullptr},
};

}  // namespace

namespace detail {

at::ScalarType dtype_named(const std::string& name, const std::string& source) {
  for (const auto& type : kTorchTypes) {
    if (name == type.name || (type.alias && name == type.alias)) return type.dtype;
  }
  throw Error(source + ": unsupported tensor type " + name);
}

const char* storage_class(at::ScalarType dtype, const std::string& where) {
  for (const auto& type : kTorchTypes) {
    if (type.dtype == dtype) return type.storage;
  }
  throw Error(where + ": tensors of type " + std::string(c10::toString(dtype)) +
              " cannot be saved");
}

}  // namespace detail

at::ScalarType storage_dtype(const std::string& storage_class, const std::string& source) {
  std::string name = storage_class;
  for (const char* prefix : {"torch.cuda.", "torch."}) {
    if (name.rfind(prefix, 0) == 0) {
      name = name.substr(std::strlen(prefix));
      break;
    }
  }
  // PyTorch 2's untyped storages hold bytes; _rebuild_tensor_v3 names the dtype of the view.
  if (name == "UntypedStorage") return at::kByte;
  for (const auto& type : kTorchTypes) {
    if (name == type.storage) return type.dtype;
  }
  throw Error(source + ": unsupported storage type " + storage_class);
}

}  // namespace mbmd::io
