# The libFuzzer build (-DMBMD_FUZZ=ON, tests/fuzz, docs/reliability.md "Fuzzing"): everything this
# project compiles gets libFuzzer's coverage instrumentation, AddressSanitizer and
# UndefinedBehaviorSanitizer; only the fuzzer binaries link libFuzzer itself (its main()).
# LibTorch and the system libraries stay uninstrumented.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "MBMD_FUZZ needs clang for libFuzzer: -DCMAKE_CXX_COMPILER=clang++ "
                      "(bash tests/fuzz/run.sh configures build-fuzz that way)")
endif()
# Undefined behaviour stops the run, so that libFuzzer saves the input like any other crash.
set(MBMD_FUZZ_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined
                             -fno-omit-frame-pointer)
add_compile_options(-fsanitize=fuzzer-no-link ${MBMD_FUZZ_SANITIZE_FLAGS})
add_link_options(${MBMD_FUZZ_SANITIZE_FLAGS})
