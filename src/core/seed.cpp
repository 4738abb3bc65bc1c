#include "mbmd/core/seed.h"

namespace mbmd {
namespace {

// splitmix64: turns (seed, stream) into well-spread generator seeds.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t derive_seed(uint64_t seed, uint64_t stream) { return mix(seed ^ mix(stream + 1)); }

}  // namespace mbmd
