// A folder of its own for each test: named after the process and the test, since ctest runs test
// binaries side by side, and emptied before the test starts.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace mbmd::testing {

// temp/<prefix><pid>_<test name>, removed if a crashed run left it, then made anew.
inline std::filesystem::path fresh_test_dir(const std::string& prefix) {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / (prefix + std::to_string(::getpid()) + "_" +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace mbmd::testing
