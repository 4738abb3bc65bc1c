#include "mbmd/core/build_info.h"

#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "mbmd/core/strings.h"
#include "mbmd_version.h"

namespace mbmd {

std::vector<std::string> cpu_features() {
  static const char* const kWanted[] = {"avx2",        "fma",         "avx512f", "avx512bw",
                                        "avx512_vnni", "avx512_bf16", "amx_bf16"};
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::set<std::string> flags;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    for (std::string w; words >> w;) flags.insert(w);
    break;
  }
  std::vector<std::string> found;
  for (const char* f : kWanted)
    if (flags.count(f)) found.push_back(f);
  return found;
}

std::string version_string() { return std::string(MBMD_VERSION) + " (commit " + MBMD_COMMIT + ")"; }

std::string build_info() {
  std::ostringstream out;
  out << "mbmd " << version_string() << "\n";
  out << "LibTorch " << TORCH_VERSION << ", oneDNN " << (at::hasMKLDNN() ? "yes" : "no") << ", "
      << std::thread::hardware_concurrency() << " cores\n";
  const bool cuda = torch::cuda::is_available();
  out << "device: cpu"
      << (cuda ? ", cuda (" + std::to_string(torch::cuda::device_count()) + ")"
               : std::string(" (no CUDA device)"))
      << "\n";
  const auto features = cpu_features();
  out << "CPU features: "
      << (features.empty() ? std::string("none of avx2/avx512") : join(features, " ")) << "\n";
  return out.str();
}

}  // namespace mbmd
