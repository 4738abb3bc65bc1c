// Dataset annotations: the INbreast plists, the BCS-DBT tables and COCO files.
#include <filesystem>

#include "fuzz_input.h"
#include "mbmd/data/bcsdbt.h"
#include "mbmd/data/coco.h"
#include "mbmd/data/inbreast.h"
#include "mbmd/eval/coco_io.h"
#include "split_input.h"
#include "targets.h"

namespace mbmd::fuzz {
namespace {

// The BCS-DBT root: the three tables of one part, as TCIA names them. The volumes they point to
// do not exist, so every row gets as far as the volume lookup.
std::string write_bcsdbt_tables(const uint8_t* data, size_t size) {
  static const std::string root = [] {
    const std::string folder = input_folder() + "/bcsdbt";
    std::filesystem::create_directories(folder);
    return folder;
  }();
  const std::vector<std::string> tables = split_input(data, size, 3);
  write_input("bcsdbt/BCS-DBT file-paths-fuzz.csv", tables[0]);
  write_input("bcsdbt/BCS-DBT labels-fuzz.csv", tables[1]);
  write_input("bcsdbt/BCS-DBT boxes-fuzz.csv", tables[2]);
  return root;
}

void read_bcsdbt_both_ways(const std::string& root) {
  data::DatasetOptions options;
  options.root = root;
  accept_named_errors([&] { data::read_bcsdbt(options); });
  // Skipping bad rows carries on past the first problem, through every row.
  options.skip_bad = true;
  options.keep_unlocated = true;
  accept_named_errors([&] { data::read_bcsdbt(options); });
}

}  // namespace

int inbreast_plist(const uint8_t* data, size_t size) {
  const std::string path = write_input("20586908.xml", data, size);
  return accept_named_errors([&] { data::read_inbreast_rois(path); });
}

int bcsdbt_csv(const uint8_t* data, size_t size) {
  read_bcsdbt_both_ways(write_bcsdbt_tables(data, size));
  return 0;
}

// A ground-truth file, optionally followed by a results file for it (`mbmd eval --gt --dets`).
int coco_json(const uint8_t* data, size_t size) {
  const std::vector<std::string> files = split_input(data, size, 2);
  const std::string gt_path = write_input("coco_gt.json", files[0]);
  accept_named_errors([&] { data::read_coco(gt_path); });
  accept_named_errors([&] {
    data::CocoReadOptions options;
    options.skip_bad = true;
    data::read_coco(gt_path, options);
  });
  return accept_named_errors([&] {
    const engine::EvalSet gt = engine::read_coco_ground_truth(gt_path);
    if (files[1].empty()) return;
    engine::read_coco_results(write_input("coco_dets.json", files[1]), gt);
  });
}

}  // namespace mbmd::fuzz
