// Test helper for the pipeline tests: every batch of one epoch, in order.
#pragma once

#include <cstdint>
#include <vector>

#include "mbmd/pipeline/data_pipeline.h"

namespace mbmd::testing {

inline std::vector<engine::LoadedBatch> drain_epoch(engine::DataPipeline& pipeline, int64_t epoch) {
  std::vector<engine::LoadedBatch> out;
  pipeline.start_epoch(epoch);
  engine::LoadedBatch b;
  while (pipeline.next(b)) out.push_back(b);
  return out;
}

}  // namespace mbmd::testing
