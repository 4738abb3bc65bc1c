#include "mbmd/core/config_path.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "mbmd/core/error.h"
#include "mbmd/core/strings.h"
#include "mbmd_paths.h"

namespace mbmd {
namespace {

namespace fs = std::filesystem;

// The folder of the running program, or empty when /proc/self/exe cannot be read.
fs::path program_folder() {
  std::error_code error;
  const fs::path exe = fs::read_symlink("/proc/self/exe", error);
  return error ? fs::path() : exe.parent_path();
}

void add_folder(std::vector<std::string>& folders, const fs::path& folder) {
  std::error_code error;
  if (folder.empty() || !fs::is_directory(folder, error)) return;
  const std::string text = fs::weakly_canonical(folder, error).string();
  for (const auto& f : folders)
    if (f == text) return;
  folders.push_back(text);
}

bool is_file(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error);
}

}  // namespace

std::vector<std::string> config_search_path() {
  std::vector<std::string> folders;
  if (const char* env = std::getenv("MBMD_CONFIG_PATH"))
    for (const auto& part : split(env, ':')) add_folder(folders, part);
  const fs::path program = program_folder();
  if (!program.empty()) {
    add_folder(folders, program / ".." / "share" / "mbmd" / "configs");
    add_folder(folders, program / ".." / "configs");
  }
  add_folder(folders, MBMD_CONFIG_DIR);
  return folders;
}

std::string resolve_config_path(const std::string& name) {
  const fs::path path(name);
  if (is_file(path)) return path.string();
  if (path.has_extension()) throw Error("config " + name + ": no such file");
  if (is_file(fs::path(name + ".json"))) return name + ".json";
  const std::vector<std::string> folders = config_search_path();
  for (const auto& folder : folders) {
    const fs::path candidate = fs::path(folder) / (name + ".json");
    if (is_file(candidate)) return candidate.string();
  }
  throw Error("config " + name + ": no such file, and no config of that name in " +
              (folders.empty() ? std::string("any config folder") : join(folders, ", ")) +
              " (give a path, or set MBMD_CONFIG_PATH to the folder of your configs)");
}

}  // namespace mbmd
