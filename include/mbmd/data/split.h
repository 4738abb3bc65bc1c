// The paper's cross-validation protocol (docs/design.md, "Protocol"): images grouped by patient,
// patients shuffled with a seed and dealt into five parts balanced by the number of images with
// masses and by the number of images; permutation r: test = part r, validation = part (r+1) mod 5,
// training = the other three. A split file (json) keeps the parts so a run can be repeated.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mbmd/data/sample.h"

namespace mbmd::data {

struct Split {
  std::uint64_t seed = 0;
  std::string dataset_root;
  std::vector<std::vector<std::string>> parts;  // image ids of each part
};

struct Fold {
  std::vector<std::string> train, val, test;  // image ids
};

// Deals the samples' patients into `num_parts` parts. The shuffle is a Fisher-Yates shuffle of the
// patients (sorted by id first) driven by std::mt19937_64(seed), drawing j = rng() % (i + 1) for
// i = n-1 .. 1, so the result is the same with every standard library (std::shuffle and
// std::uniform_int_distribution are not). Each patient is then dealt greedily: a patient with
// images with boxes to the part with the fewest images with boxes (ties: fewest images), a patient
// without to the part with the fewest images (ties: fewest images with boxes); remaining ties go to
// the lowest index. Within a part, image ids keep the order of `samples`.
Split make_split(const std::vector<Sample>& samples, std::uint64_t seed,
                 const std::string& dataset_root = "", int num_parts = 5);

// Permutation r (0 <= r < number of parts).
Fold split_fold(const Split& split, int r);

// Checks that every image id of the split is one of `samples` and each patient lies in one part;
// throws mbmd::Error naming the id or patient otherwise.
void check_split(const Split& split, const std::vector<Sample>& samples);

// {"format": "mbmd-split", "version": 1, "seed": ..., "dataset_root": ..., "parts": [[ids], ...]},
// written atomically.
void write_split(const std::string& path, const Split& split);
Split read_split(const std::string& path);

// The samples whose ids are listed, in the order of `ids`; throws mbmd::Error for an unknown id.
std::vector<Sample> select_samples(const std::vector<Sample>& samples,
                                   const std::vector<std::string>& ids);

}  // namespace mbmd::data
