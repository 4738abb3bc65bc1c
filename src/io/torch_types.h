// The names torch.save gives tensor types, private to src/io. storage_dtype, the reverse of
// storage_class, is declared in include/mbmd/io/pickle.h.
#pragma once

#include <c10/core/ScalarType.h>

#include <string>

namespace mbmd::io::detail {

// The dtype _rebuild_tensor_v3 names ("torch.float32", "torch.float"); throws mbmd::Error naming
// `source` for anything else.
at::ScalarType dtype_named(const std::string& name, const std::string& source);

// The typed storage class (without "torch.") that holds `dtype`: "FloatStorage" for float32;
// throws mbmd::Error "<where>: tensors of type ... cannot be saved" for a type without one.
const char* storage_class(at::ScalarType dtype, const std::string& where);

}  // namespace mbmd::io::detail
