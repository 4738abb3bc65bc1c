// libFuzzer's entry point for one target, named at compile time by MBMD_FUZZ_TARGET (a function of
// targets.h), so that each fuzzer binary runs exactly the code the replay test runs.
#include "targets.h"

#ifndef MBMD_FUZZ_TARGET
#error "MBMD_FUZZ_TARGET must name the target's entry function"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return mbmd::fuzz::MBMD_FUZZ_TARGET(data, size);
}
