// Atomic files, JSON files and where config names are found.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "mbmd/core/atomic_file.h"
#include "mbmd/core/config.h"
#include "mbmd/core/config_path.h"
#include "mbmd/core/error.h"
#include "mbmd/core/json_file.h"
#include "temp_dir.h"

namespace mbmd {
namespace {

namespace fs = std::filesystem;

class CoreFiles : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = mbmd::testing::fresh_test_dir("mbmd_core_files_"); }
  void TearDown() override {
    unsetenv("MBMD_CONFIG_PATH");
    fs::remove_all(dir_);
  }
  std::string read(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  fs::path dir_;
};

TEST_F(CoreFiles, AtomicWriteReplacesWholeAndLeavesNoTemporary) {
  const fs::path target = dir_ / "out.txt";
  write_file_atomic(target.string(), "first");
  write_file_atomic(target.string(), "second");
  EXPECT_EQ(read(target), "second");
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) files += entry.is_regular_file();
  EXPECT_EQ(files, 1u);
  EXPECT_NE(temporary_path_for(target.string()), temporary_path_for(target.string()));
}

TEST_F(CoreFiles, AtomicWriteIntoMissingFolderIsNamed) {
  const std::string target = (dir_ / "no" / "such" / "out.txt").string();
  try {
    write_file_atomic(target, "x");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(target), std::string::npos) << e.what();
  }
}

TEST_F(CoreFiles, JsonFileRoundTripAndErrorsNameTheFile) {
  const std::string path = (dir_ / "a.json").string();
  write_json_file(path, Json{{"a", 1}});
  EXPECT_EQ(read_json_file(path, "test file")["a"], 1);
  std::ofstream(dir_ / "bad.json") << "{ \"a\": ";
  try {
    read_json_file((dir_ / "bad.json").string(), "test file");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("test file " + (dir_ / "bad.json").string()),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_json_file((dir_ / "missing.json").string()), Error);
}

// A file name that is not UTF-8 (Latin-1 "\xe9") reaches the results as U+FFFD, not an exception.
TEST_F(CoreFiles, JsonTextReplacesBytesThatAreNotUtf8) {
  const Json j = {{"file_name", std::string("caf\xe9.png")}};
  EXPECT_EQ(json_text(j), "{\"file_name\":\"caf\xef\xbf\xbd.png\"}");
  EXPECT_NO_THROW(write_json_file((dir_ / "latin1.json").string(), j));
}

TEST_F(CoreFiles, ConfigNamesAreFoundThroughMbmdConfigPath) {
  fs::create_directories(dir_ / "mine" / "sub");
  std::ofstream(dir_ / "mine" / "sub" / "tiny.json") << R"({"model": {"num_classes": 3}})";
  setenv("MBMD_CONFIG_PATH", (dir_ / "mine").c_str(), 1);
  EXPECT_EQ(fs::path(resolve_config_path("sub/tiny")), dir_ / "mine" / "sub" / "tiny.json");
  EXPECT_EQ(load_config("sub/tiny")["model"]["num_classes"], 3);
  EXPECT_EQ(config_search_path().front(), fs::weakly_canonical(dir_ / "mine").string());
}

TEST_F(CoreFiles, ProjectConfigsAreFoundWithoutThePath) {
  EXPECT_NO_THROW(load_config("mbmdnet_r50_mhfpn"));
}

TEST_F(CoreFiles, UnknownConfigNameListsTheFoldersSearched) {
  setenv("MBMD_CONFIG_PATH", dir_.c_str(), 1);
  try {
    resolve_config_path("no_such_config_name");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string text = e.what();
    EXPECT_NE(text.find("no_such_config_name"), std::string::npos) << text;
    EXPECT_NE(text.find(fs::weakly_canonical(dir_).string()), std::string::npos) << text;
    EXPECT_NE(text.find("MBMD_CONFIG_PATH"), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace mbmd
