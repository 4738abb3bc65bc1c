// `mbmd --version`, and an installed mbmd (cmake --install) that finds its configs beside itself
// from any folder.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "mbmd_paths.h"
#include "run_mbmd.h"

namespace mbmd {
namespace {

namespace fs = std::filesystem;
using testing::ProgramRun;

ProgramRun run_shell(const std::string& command) { return testing::run_command(command + " 2>&1"); }

TEST(Version, SaysVersionLibTorchDeviceAndCpuFeatures) {
  const ProgramRun run = testing::run_mbmd("--version");
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_EQ(run.output.rfind("mbmd ", 0), 0u) << run.output;
  EXPECT_NE(run.output.find("(commit "), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("LibTorch "), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("device: cpu"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("CPU features: "), std::string::npos) << run.output;
}

TEST(Install, InstalledProgramFindsItsConfigsFromAnyFolder) {
  const fs::path prefix =
      fs::temp_directory_path() / ("mbmd_install_test_" + std::to_string(::getpid()));
  fs::remove_all(prefix);
  const ProgramRun install = run_shell("cmake --install '" + std::string(MBMD_BINARY_DIR) +
                                       "' --prefix '" + prefix.string() + "'");
  ASSERT_EQ(install.status, 0) << install.output;
  const fs::path bin = prefix / "bin" / "mbmd";
  ASSERT_TRUE(fs::exists(bin));
  ASSERT_TRUE(fs::exists(prefix / "share" / "mbmd" / "configs" / "mbmdnet_r50_mhfpn.json"));
  EXPECT_TRUE(fs::exists(prefix / "share" / "doc" / "mbmd" / "design.md"));
  // A config that exists only in the installed folder proves the lookup beside the program.
  std::ofstream(prefix / "share" / "mbmd" / "configs" / "only_installed.json")
      << R"({"_base_": "mbmdnet_r50_mhfpn.json", "model": {"num_classes": 2}})";
  const ProgramRun stats =
      run_shell("cd / && '" + bin.string() + "' stats --config only_installed --json");
  EXPECT_EQ(stats.status, 0) << stats.output;
  EXPECT_NE(stats.output.find("params"), std::string::npos) << stats.output;
  const ProgramRun version = run_shell("cd / && '" + bin.string() + "' --version");
  EXPECT_EQ(version.status, 0) << version.output;
  fs::remove_all(prefix);
}

}  // namespace
}  // namespace mbmd
