// Helpers shared by the io layer's tests: fixture paths, temporary folders, running Debian's
// Python (which has torch) for reference outputs, and reading whole files.
#pragma once

#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "mbmd/core/error.h"
#include "mbmd/io/pickle.h"
#include "mbmd_paths.h"
#include "python_interpreter.h"

namespace mbmd::io::testing {

// Unpickles bytes held in a string (origin "test.pkl").
inline PickleRef unpickle_string(const std::string& bytes, const PersistentLoad& load = nullptr) {
  return unpickle(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "test.pkl", load);
}

// The mbmd::Error message `f` throws, or "(no error)".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

inline std::string fixture(const std::string& name) {
  return std::string(MBMD_SOURCE_DIR) + "/tests/fixtures/io/" + name;
}

inline const nlohmann::json& manifest() {
  static const nlohmann::json m = [] {
    std::ifstream in(fixture("manifest.json"));
    return nlohmann::json::parse(in);
  }();
  return m;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A torch.save-like zip with the given data.pkl and records.
inline void write_zip(const std::string& path, const std::string& pkl,
                      const std::vector<std::pair<std::string, std::string>>& records = {}) {
  caffe2::serialize::PyTorchStreamWriter writer(path);
  writer.writeRecord("data.pkl", pkl.data(), pkl.size());
  for (const auto& [name, data] : records) writer.writeRecord(name, data.data(), data.size());
  writer.writeEndOfFile();
}

// A fresh folder under the system's temporary directory, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "mbmd_io_XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Whether the tests' interpreter (python_interpreter.h) with torch and torchvision is here.
inline bool python_with_torch() {
  static const bool ok = [] {
    const std::string cmd =
        mbmd::testing::python_interpreter() + " -c 'import torch, torchvision' >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
  }();
  return ok;
}

// Runs `/usr/bin/python3 script args`, returning its exit status and output (stdout + stderr).
inline int run_python(const std::string& script_path, const std::string& args,
                      std::string* output) {
  const std::string cmd =
      mbmd::testing::python_interpreter() + " " + script_path + " " + args + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) return -1;
  char buf[4096];
  size_t n;
  output->clear();
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) output->append(buf, n);
  return ::pclose(pipe);
}

}  // namespace mbmd::io::testing
