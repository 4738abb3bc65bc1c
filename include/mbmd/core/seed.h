// Seeds derived from a run's seed, so that every random stream (an epoch's order, an iteration's
// sampling, a phantom film) is fixed by (seed, stream) alone and the same on every machine.
#pragma once

#include <cstdint>

namespace mbmd {

// A seed for stream `stream` of a run seeded with `seed` (splitmix64 of both), e.g. the global
// generator's seed for one training iteration.
uint64_t derive_seed(uint64_t seed, uint64_t stream);

}  // namespace mbmd
