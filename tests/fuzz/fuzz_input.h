// Helpers of the fuzz targets: inputs for readers that only take a path, and the rule that an
// mbmd::Error is a clean outcome.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "mbmd/core/error.h"

namespace mbmd::fuzz {

// Writes the input to this process's file `name` (in a private temporary folder made on first
// use and removed at exit) and returns its path. One path per name and process, so that a
// campaign of millions of runs does not create millions of files.
std::string write_input(const std::string& name, const uint8_t* data, size_t size);

// Same, for text the target has already cut out of the input.
std::string write_input(const std::string& name, const std::string& bytes);

// The private temporary folder itself (for readers that take a folder).
std::string input_folder();

// Runs `read`; an mbmd::Error is the reader refusing the input by name, which is what it should
// do. Anything else propagates to the caller.
template <typename Read>
int accept_named_errors(Read&& read) {
  try {
    read();
  } catch (const mbmd::Error&) {
  }
  return 0;
}

}  // namespace mbmd::fuzz
