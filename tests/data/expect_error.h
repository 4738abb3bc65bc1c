// Shared by the data tests: `f` must throw mbmd::Error whose message holds every one of `parts`
// (the file, key or value it names and the problem).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mbmd/core/error.h"

namespace mbmd::testing {

template <typename F>
void expect_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no mbmd::Error thrown";
  } catch (const mbmd::Error& e) {
    for (const auto& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "message '" << e.what() << "' lacks '" << part << "'";
  }
}

}  // namespace mbmd::testing
