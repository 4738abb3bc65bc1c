// The Python interpreter that tests run to make reference outputs: Debian's /usr/bin/python3 (with
// python3-torch and python3-torchvision), or the one MBMD_PYTHON names (bench/gpu_check.sh points
// it at the PyTorch whose LibTorch the build used).
#pragma once

#include <cstdlib>
#include <string>

namespace mbmd::testing {

inline std::string python_interpreter() {
  const char* named = std::getenv("MBMD_PYTHON");
  return named != nullptr && *named != '\0' ? named : "/usr/bin/python3";
}

}  // namespace mbmd::testing
