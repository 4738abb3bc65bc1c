// COCO detection json in both directions (docs/design.md, "Datasets"), so that the same data and
// splits can be used with mmdetection, torchvision or pycocotools.
//
// Written: images (id 1..N, file_name, width, height, plus image_name = Sample::image_id,
// patient_id, laterality, view, bit_depth, frame and slice_display for a slice of a volume,
// lesion_without_location), annotations
// (id 1..M, image_id, category_id, bbox [x, y, w, h] with w = x2 - x1, area = w * h, iscrowd 0),
// categories (id 1..K in label order), and info.image_root: the folder file_name is relative to.
#pragma once

#include <string>

#include "mbmd/data/dataset.h"

namespace mbmd::data {

struct CocoReadOptions {
  // Folder the file_name entries are relative to; empty: the file's info.image_root when present,
  // else the json file's folder.
  std::string image_root;
  // Bad annotations (unknown image or category, malformed or outside-the-image bbox) are skipped
  // and listed instead of raising mbmd::Error.
  bool skip_bad = false;
};

// Reads any COCO detection file: bbox [x, y, w, h] -> x1 y1 x2 y2; categories -> 0-based labels
// in the order of the file's "categories" array; iscrowd annotations are left out and listed in
// Dataset::excluded. Sample::image_id is images[].image_name when present, else the numeric id.
// A frame without slice_display (files written before it existed) is a BCS-DBT slice. The file
// may hold comments.
Dataset read_coco(const std::string& path, const CocoReadOptions& options = {});

struct CocoWriteOptions {
  // file_name is written relative to this folder when the file lies under it (and
  // info.image_root records it); empty: the files' paths as they are.
  std::string image_root;
};

// Writes `dataset` as COCO json, atomically.
void write_coco(const std::string& path, const Dataset& dataset,
                const CocoWriteOptions& options = {});

}  // namespace mbmd::data
