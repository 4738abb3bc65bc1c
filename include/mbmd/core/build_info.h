// What `mbmd --version` prints: which mbmd this is and what it runs on.
#pragma once

#include <string>
#include <vector>

namespace mbmd {

// The CPU features the fast paths use (oneDNN's AVX2 / AVX-512 / BF16 kernels), as this CPU
// reports them in /proc/cpuinfo: e.g. {"avx2", "fma", "avx512f", "avx512_bf16"}.
std::vector<std::string> cpu_features();

// "0.1.0 (commit 9e7a7fc)": which mbmd wrote a result.
std::string version_string();

// Lines "mbmd 0.1.0 (commit 9e7a7fc)", "LibTorch 1.13.0", "device: ...", "CPU features: ...".
std::string build_info();

}  // namespace mbmd
