#include "op_common.h"

#include <sstream>

namespace mbmd::ops::detail {

std::string shape_of(const at::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

std::string dtype_of(const at::Tensor& t) { return std::string(c10::toString(t.scalar_type())); }

void check_same_dtype(const std::string& op, const char* a_name, const at::Tensor& a,
                      const char* b_name, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type()) {
    throw Error(op + ": " + a_name + " and " + b_name + " must have the same dtype, got " +
                dtype_of(a) + " and " + dtype_of(b));
  }
}

void check_same_device(const std::string& op, const char* a_name, const at::Tensor& a,
                       const char* b_name, const at::Tensor& b) {
  if (a.device() != b.device()) {
    throw Error(op + ": " + a_name + " and " + b_name + " must be on the same device, got " +
                a.device().str() + " and " + b.device().str());
  }
}

void throw_no_kernel(const std::string& missing, const at::Device& device) {
  throw Error(missing + " for tensors on " + device.str() +
              " in this build (mbmd was built without CUDA support)");
}

}  // namespace mbmd::ops::detail
