// The fuzz targets' entry functions (docs/reliability.md, "Fuzzing"). Each feeds one input to one
// of the project's public readers and returns 0. An mbmd::Error is a clean outcome, the reader's
// named refusal; any other exception escapes, so that libFuzzer (tests/fuzz/fuzz_main.cpp) and
// the replay test (tests/fuzz/replay_test.cpp) both report it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mbmd::fuzz {

using EntryFunction = int (*)(const uint8_t* data, size_t size);

// Images (image_targets.cpp).
int pgm(const uint8_t* data, size_t size);
int png(const uint8_t* data, size_t size);
int dicom(const uint8_t* data, size_t size);

// Dataset annotations (dataset_targets.cpp).
int inbreast_plist(const uint8_t* data, size_t size);
int bcsdbt_csv(const uint8_t* data, size_t size);
int coco_json(const uint8_t* data, size_t size);

// Config and checkpoints (model_file_targets.cpp).
int config_json(const uint8_t* data, size_t size);
int pickle(const uint8_t* data, size_t size);
int checkpoint(const uint8_t* data, size_t size);

struct Target {
  std::string name;  // also the folder of its seeds and regressions under tests/fuzz
  EntryFunction run;
};

// Every target, in the order above.
const std::vector<Target>& all_targets();

}  // namespace mbmd::fuzz
