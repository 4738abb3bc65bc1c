// Time to deliver a preprocessed mini-MIAS sample (decode, resize to 1333x800, normalise, pad,
// collate) with and without the cache of decoded, resized images (issue 8).
//
// usage: mbmd_bench_data [MINI_MIAS_DIR] [--workers N]
// Prints milliseconds per sample for: no cache, cache being filled (first epoch), cache warm.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "mbmd/core/config.h"
#include "mbmd/core/error.h"
#include "mbmd/core/threads.h"
#include "mbmd/data/mias.h"
#include "mbmd/pipeline/data_pipeline.h"
#include "mbmd_paths.h"

namespace {

double ms_per_sample(mbmd::engine::DataPipeline& pipeline, int64_t epoch) {
  const auto start = std::chrono::steady_clock::now();
  pipeline.start_epoch(epoch);
  mbmd::engine::LoadedBatch batch;
  int64_t samples = 0;
  while (pipeline.next(batch)) samples += static_cast<int64_t>(batch.samples.size());
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return ms / static_cast<double>(samples);
}

}  // namespace

int main(int argc, char** argv) {
  std::string root = std::string(MBMD_SHARED_DIR) + "/data/mini-mias";
  int workers = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--workers" && i + 1 < argc) {
      workers = std::atoi(argv[++i]);
    } else {
      root = arg;
    }
  }
  try {
    mbmd::configure_threads(0);
    mbmd::data::DatasetOptions options;
    options.root = root;
    options.masses_only = true;
    const auto dataset = mbmd::data::read_mias(options);
    const auto config = mbmd::load_config("faster_rcnn_r50_fpn");
    auto pipeline_options = mbmd::engine::pipeline_options_from_config(config, /*train=*/true);
    pipeline_options.workers = workers;
    pipeline_options.batch_size = 1;

    pipeline_options.cache = false;
    mbmd::engine::DataPipeline uncached(dataset.samples, pipeline_options);
    const double no_cache = ms_per_sample(uncached, 0);
    pipeline_options.cache = true;
    mbmd::engine::DataPipeline cached(dataset.samples, pipeline_options);
    const double filling = ms_per_sample(cached, 0);
    const double warm = ms_per_sample(cached, 1);
    std::printf("mini-MIAS (%zu films, masses only), input 1333x800, %d loader workers\n\n",
                dataset.samples.size(), workers);
    std::printf("| pipeline | ms per sample |\n|---|---|\n");
    std::printf("| no cache (decode PNG, resize, normalise, pad) | %.1f |\n", no_cache);
    std::printf("| cache, first epoch (fills it) | %.1f |\n", filling);
    std::printf("| cache, later epochs | %.1f |\n", warm);
    std::printf("\ncache speed-up: %.1fx\n", no_cache / warm);
  } catch (const mbmd::Error& e) {
    std::fprintf(stderr, "mbmd_bench_data: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
