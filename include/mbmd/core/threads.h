#pragma once

namespace mbmd {

// LibTorch 1.13 starts with half the cores on x86_64; the product uses all of them unless told.
// Returns the number of intra-op threads set. `requested` <= 0 means every available core.
int configure_threads(int requested);

}  // namespace mbmd
