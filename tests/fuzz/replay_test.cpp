// Replays every committed seed (tests/fuzz/corpus/<target>/) and every input that once crashed a
// target (tests/fuzz/regressions/<target>/) through the targets' entry functions, in the ordinary
// build: a reader that throws anything but mbmd::Error on one of them fails here, without clang.
#include <gtest/gtest.h>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#include "mbmd_paths.h"
#include "targets.h"

namespace mbmd::fuzz {

// Names the target in test listings (gtest would print the bytes of the struct).
void PrintTo(const Target& target, std::ostream* out) { *out << target.name; }

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> inputs_of(const std::string& target) {
  std::vector<fs::path> files;
  for (const char* kind : {"corpus", "regressions"}) {
    const fs::path folder = fs::path(MBMD_SOURCE_DIR) / "tests" / "fuzz" / kind / target;
    if (!fs::is_directory(folder)) continue;
    for (const auto& entry : fs::directory_iterator(folder))
      if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// "" when the target took the input cleanly, else what escaped.
std::string replay(EntryFunction run, const std::vector<uint8_t>& bytes) {
  try {
    run(bytes.data(), bytes.size());
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
  return "";
}

class FuzzReplay : public ::testing::TestWithParam<Target> {};

TEST_P(FuzzReplay, EveryInputIsReadOrRefusedWithAnMbmdError) {
  const Target& target = GetParam();
  const std::vector<fs::path> files = inputs_of(target.name);
  ASSERT_FALSE(files.empty()) << "no seeds in tests/fuzz/corpus/" << target.name;
  for (const fs::path& file : files) {
    const std::string escaped = replay(target.run, read_bytes(file));
    EXPECT_EQ(escaped, "") << file.string();
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplay, ::testing::ValuesIn(all_targets()),
                         [](const ::testing::TestParamInfo<Target>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace mbmd::fuzz
