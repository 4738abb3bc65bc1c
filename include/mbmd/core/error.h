// The one exception type the product throws for bad input: its message names the file, key or
// value and says what is wrong, so the command line can print it as is and exit non-zero.
#pragma once

#include <stdexcept>
#include <string>

namespace mbmd {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace mbmd
