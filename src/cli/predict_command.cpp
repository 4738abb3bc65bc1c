// `mbmd predict`: runs a trained detector on image files (DICOM, PNG, PGM) and writes COCO
// results, optionally with overlay pictures (docs/training.md).
#include <iostream>

#include "arg_parser.h"
#include "command.h"
#include "mbmd/core/config.h"
#include "mbmd/core/error.h"
#include "mbmd/workflows/predict.h"

namespace mbmd::cli {
int predict_command(const Args& args) {
  ArgParser parser(
      "predict",
      "Runs a trained detector on images (DICOM, PNG or PGM files, or folders searched\n"
      "recursively) and writes a COCO results file: a list of {image_id (the file's stem),\n"
      "category_id (1-based), bbox [x, y, w, h] in original pixels, score}. Files are decoded\n"
      "on worker threads while the model runs. The config is the checkpoint's unless --config\n"
      "is given.\n\n"
      "example: mbmd predict --checkpoint runs/mhfpn/best.ckpt scans/ --out dets.json \\\n"
      "           --overlay overlays/ --score-thr 0.3");
  parser.positional("INPUT", "image files or folders", /*many=*/true)
      .option("checkpoint", "the trained model (best.ckpt or last.ckpt of `mbmd train`)")
      .option("config", "config file or name (default: the one stored in the checkpoint)")
      .option("set", "override a config key: key=value", "", true)
      .option("out", "the COCO results json to write")
      .option("overlay", "also write one PNG per image with boxes and scores into this folder")
      .option("score-thr", "leave out detections scoring below this (default: keep all)")
      .option("overlay-thr", "draw detections scoring at least this on overlays", "0.5")
      .option("batch", "images per forward pass", "1")
      .option("threads", "intra-op threads (0: all cores; default runtime.threads)");
  if (!parser.parse(args)) return 0;
  engine::PredictOptions options;
  if (parser.has("checkpoint")) options.checkpoint = parser.get("checkpoint");
  if (parser.has("out")) options.out = parser.get("out");
  options.inputs = parser.positionals();
  if (parser.has("config")) options.config = load_config(parser.get("config"));
  options.overrides = parser.get_all("set");
  if (parser.has("overlay")) options.overlay_dir = parser.get("overlay");
  if (parser.has("score-thr")) options.score_thr = parser.get_double("score-thr");
  options.overlay_thr = parser.get_double("overlay-thr");
  options.batch = parser.get_int("batch");
  if (parser.has("threads")) options.threads = parser.get_int("threads");
  const engine::PredictResult result = engine::run_predict(options);
  std::cout << result.images << " images, " << result.detections << " detections -> " << options.out
            << " (" << result.threads << " threads)\n";
  return 0;
}

}  // namespace mbmd::cli
