// `mbmd predict`: runs a trained detector on image files (DICOM, PNG, PGM) and writes COCO
// results, optionally with overlay pictures (docs/training.md). Options only; the work is
// mbmd::engine::run_predict (workflows/predict.h).
#include <iostream>

#include "arg_parser.h"
#include "command.h"
#include "mbmd/core/config.h"
#include "mbmd/core/error.h"
#include "mbmd/workflows/predict.h"

namespace mbmd::cli {
namespace {

constexpr const char* kSummary =
    "Runs a trained detector on images (DICOM, PNG or PGM files, or folders searched\n"
    "recursively) and writes a COCO results file: a list of {image_id (the file's stem, or with\n"
    "--gt the ground truth's id), category_id (1-based), bbox [x, y, w, h] in original pixels,\n"
    "score, file_name, and laterality, view and patient_id where a DICOM file says}. Files are\n"
    "decoded on worker threads while the model runs. The config is the checkpoint's unless\n"
    "--config is given.\n\n"
    "With --tta flip, or several --checkpoint (an ensemble), the runs of each image are merged\n"
    "(--merge wbf or nms).\n\n"
    "A multi-frame DICOM file (a tomosynthesis volume) is run frame by frame; its results carry\n"
    "\"frame\" (0-based). With --sr-out, each DICOM input also gets a DICOM SR (TID 1500\n"
    "Measurement Report) of the findings scoring --sr-thr or more, for PACS and viewers.\n\n"
    "example: mbmd predict --checkpoint runs/mhfpn/best.ckpt scans/ --out dets.json \\\n"
    "           --overlay overlays/ --score-thr 0.3";

}  // namespace

int predict_command(const Args& args) {
  engine::PredictOptions options;
  std::string config, tta, merge;
  bool skip_bad = false;
  ArgParser parser("predict", kSummary);
  parser.positional("INPUT", "image files or folders", /*many=*/true)
      .option("checkpoint",
              "the trained model (best.ckpt or last.ckpt of `mbmd train`); several make an "
              "ensemble (e.g. the five best.ckpt of `mbmd cv`)",
              "", true)
      .to(&options.checkpoints)
      .option("config", "config file or name (default: the one stored in the checkpoint)")
      .to(&config)
      .option("out", "the COCO results json to write")
      .to(&options.out)
      .option("gt", "a COCO ground truth: results get its image ids, matched by file name")
      .to(&options.gt)
      .option("overlay", "also write one PNG per image with boxes and scores into this folder")
      .to(&options.overlay_dir)
      .option("sr-out",
              "also write a DICOM Structured Report (TID 1500) per DICOM input into this folder: "
              "<stem>.sr.dcm, in the source's study")
      .to(&options.sr_dir)
      .option("sr-thr", "findings scoring at least this go into the DICOM SRs", "0.5")
      .to(&options.sr_thr)
      .option("score-thr", "leave out detections scoring below this (default: keep all)")
      .to(&options.score_thr)
      .option("overlay-thr", "draw detections scoring at least this on overlays", "0.5")
      .to(&options.overlay_thr)
      .option("batch", "images per forward pass", "1")
      .to(&options.batch)
      .config_overrides(&options.overrides, &options.threads)
      .option("tta", "test-time augmentation: none, or flip (the image and its mirror, merged)",
              "none")
      .to(&tta)
      .option("merge", "how several models or views are merged: wbf (weighted box fusion) or nms",
              "wbf")
      .to(&merge)
      .option("merge-iou", "IoU at which boxes of several runs are one finding", "0.55")
      .to(&options.merge.iou_thr)
      .flag("skip-bad",
            "exit 0 even when some files could not be read (they are always named on stderr and "
            "in DETS.errors.json, and the others' results written)")
      .to(&skip_bad)
      .flag("resume", "continue a run that was stopped: keep --out's results, skip files done")
      .to(&options.resume);
  if (!parser.parse(args)) return 0;
  options.inputs = parser.positionals();
  if (tta != "none" && tta != "flip")
    throw Error("option --tta: expected none or flip, got '" + tta + "'");
  options.tta_flip = tta == "flip";
  options.merge.method = engine::parse_merge_method(merge);
  if (!config.empty()) options.config = load_config(config);
  options.config_name = config;
  const engine::PredictResult result = engine::run_predict(options);
  std::cout << result.images << " images, " << result.detections << " detections -> " << options.out
            << " (" << result.threads << " threads)";
  if (!result.failed.empty())
    std::cout << "; " << result.failed.size() << " file(s) could not be read (see stderr and "
              << "the .errors.json beside the results)";
  std::cout << "\n";
  return result.failed.empty() || skip_bad ? 0 : 1;
}

}  // namespace mbmd::cli
