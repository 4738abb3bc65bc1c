#include "cv_pooled.h"

#include <filesystem>
#include <map>

#include "mbmd/core/error.h"
#include "mbmd/core/json_file.h"
#include "mbmd/data/coco.h"
#include "mbmd/pipeline/data_pipeline.h"

namespace mbmd::engine {

int write_pooled_test_results(const std::string& work_dir, const data::Dataset& dataset,
                              const data::Split& split, int folds) {
  namespace fs = std::filesystem;
  data::Dataset pooled = dataset;
  pooled.samples.clear();
  Json dets = Json::array();
  std::map<std::string, int64_t> id_of;  // dataset id -> pooled COCO id
  int pooled_folds = 0;
  for (int r = 0; r < folds; ++r) {
    const fs::path fold_dets = fs::path(work_dir) / ("fold" + std::to_string(r)) / "test_dets.json";
    if (!fs::exists(fold_dets)) continue;
    ++pooled_folds;
    const auto test =
        usable_samples(data::select_samples(dataset.samples, data::split_fold(split, r).test));
    for (const auto& s : test) {
      id_of[s.image_id] = static_cast<int64_t>(pooled.samples.size()) + 1;
      pooled.samples.push_back(s);
    }
    for (auto d : read_json_file(fold_dets.string(), "fold test results")) {
      const std::string id =
          d.at("image_id").is_string() ? d["image_id"].get<std::string>() : d["image_id"].dump();
      const auto found = id_of.find(id);
      if (found == id_of.end())
        throw Error(fold_dets.string() + ": image " + id + " is not in the test part of fold " +
                    std::to_string(r) + " (was the split changed after the run?)");
      d["image_id"] = found->second;
      d["fold"] = r;
      dets.push_back(std::move(d));
    }
  }
  if (pooled_folds == 0) return 0;
  data::write_coco((fs::path(work_dir) / "test_gt.json").string(), pooled);
  write_json_file((fs::path(work_dir) / "test_dets.json").string(), dets, 1);
  return pooled_folds;
}

}  // namespace mbmd::engine
