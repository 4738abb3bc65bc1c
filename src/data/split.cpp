#include "mbmd/data/split.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "mbmd/core/error.h"
#include "mbmd/core/json_file.h"

namespace mbmd::data {
namespace {

struct PatientGroup {
  std::string patient;
  std::vector<std::size_t> samples;  // indices into the samples, in their order
  int images_with_boxes = 0;
};

}  // namespace

Split make_split(const std::vector<Sample>& samples, std::uint64_t seed,
                 const std::string& dataset_root, int num_parts) {
  if (num_parts < 2)
    throw Error("a split needs at least 2 parts, got " + std::to_string(num_parts));
  // Patients sorted by id, so that the result does not depend on the order of the samples.
  std::map<std::string, PatientGroup> by_patient;
  std::set<std::string> ids;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const Sample& s = samples[i];
    if (!ids.insert(s.image_id).second)
      throw Error("make_split: image id '" + s.image_id + "' appears twice");
    // An image without a patient is its own group.
    const std::string patient = s.patient_id.empty() ? "image:" + s.image_id : s.patient_id;
    PatientGroup& group = by_patient[patient];
    group.patient = patient;
    group.samples.push_back(i);
    group.images_with_boxes += s.boxes.defined() && s.boxes.size(0) > 0;
  }
  std::vector<PatientGroup> groups;
  for (auto& [patient, group] : by_patient) groups.push_back(std::move(group));

  // Fisher-Yates with std::mt19937_64, whose output sequence the standard fixes; the modulo draw
  // has a bias below 2^-50 for any real number of patients.
  std::mt19937_64 rng(seed);
  for (std::size_t i = groups.size(); i > 1; --i) {
    const std::size_t j = static_cast<std::size_t>(rng() % i);
    std::swap(groups[i - 1], groups[j]);
  }

  std::vector<std::vector<std::size_t>> members(num_parts);
  std::vector<int> with_boxes(num_parts, 0), images(num_parts, 0);
  for (const auto& group : groups) {
    // A patient with masses goes where masses are fewest (then images); one without, where images
    // are fewest (then masses). Ranking every patient by masses first would pile all patients
    // without masses onto the part that happens to have the fewest masses.
    const bool has_masses = group.images_with_boxes > 0;
    const auto& first = has_masses ? with_boxes : images;
    const auto& second = has_masses ? images : with_boxes;
    int best = 0;
    for (int p = 1; p < num_parts; ++p)
      if (first[p] < first[best] || (first[p] == first[best] && second[p] < second[best])) best = p;
    with_boxes[best] += group.images_with_boxes;
    images[best] += static_cast<int>(group.samples.size());
    members[best].insert(members[best].end(), group.samples.begin(), group.samples.end());
  }
  Split split;
  split.seed = seed;
  split.dataset_root = dataset_root;
  for (auto& part : members) {
    std::sort(part.begin(), part.end());
    std::vector<std::string> part_ids;
    for (const std::size_t i : part) part_ids.push_back(samples[i].image_id);
    split.parts.push_back(std::move(part_ids));
  }
  return split;
}

Fold split_fold(const Split& split, int r) {
  const int k = static_cast<int>(split.parts.size());
  if (k < 3)
    throw Error("a split needs at least 3 parts for train/val/test, it has " + std::to_string(k));
  if (r < 0 || r >= k)
    throw Error("permutation " + std::to_string(r) + " is out of range 0.." +
                std::to_string(k - 1));
  Fold fold;
  fold.test = split.parts[r];
  fold.val = split.parts[(r + 1) % k];
  for (int p = 0; p < k; ++p)
    if (p != r && p != (r + 1) % k)
      fold.train.insert(fold.train.end(), split.parts[p].begin(), split.parts[p].end());
  return fold;
}

void check_split(const Split& split, const std::vector<Sample>& samples) {
  std::map<std::string, const Sample*> by_id;
  for (const auto& s : samples) by_id[s.image_id] = &s;
  std::map<std::string, std::size_t> part_of_patient;
  std::set<std::string> seen;
  for (std::size_t p = 0; p < split.parts.size(); ++p) {
    for (const auto& id : split.parts[p]) {
      const auto found = by_id.find(id);
      if (found == by_id.end()) throw Error("split: image '" + id + "' is not in the dataset");
      if (!seen.insert(id).second) throw Error("split: image '" + id + "' is listed twice");
      const std::string& patient = found->second->patient_id;
      if (patient.empty()) continue;
      const auto [where, inserted] = part_of_patient.emplace(patient, p);
      if (!inserted && where->second != p)
        throw Error("split: patient '" + patient + "' has images in parts " +
                    std::to_string(where->second) + " and " + std::to_string(p));
    }
  }
}

void write_split(const std::string& path, const Split& split) {
  Json root = {{"format", "mbmd-split"},
               {"version", 1},
               {"seed", split.seed},
               {"dataset_root", split.dataset_root},
               {"parts", split.parts}};
  write_json_file(path, root, 1);
}

Split read_split(const std::string& path) {
  const Json root = read_json_file(path, "split file");
  if (!root.is_object() || root.value("format", "") != "mbmd-split")
    throw Error(path + ": not an mbmd split file (\"format\": \"mbmd-split\" missing)");
  if (!root.contains("version") || root["version"] != 1)
    throw Error(path + ": unsupported split file version " + root.value("version", Json()).dump());
  Split split;
  if (!root.contains("seed") || !root["seed"].is_number_unsigned())
    throw Error(path + ": 'seed' must be a non-negative integer");
  split.seed = root["seed"].get<std::uint64_t>();
  if (root.contains("dataset_root")) {
    if (!root["dataset_root"].is_string()) throw Error(path + ": 'dataset_root' must be a string");
    split.dataset_root = root["dataset_root"].get<std::string>();
  }
  const Json& parts = root.value("parts", Json());
  if (!parts.is_array() || parts.size() < 2)
    throw Error(path + ": 'parts' must be an array of at least 2 arrays of image ids");
  std::set<std::string> seen;
  for (std::size_t p = 0; p < parts.size(); ++p) {
    if (!parts[p].is_array())
      throw Error(path + ": parts[" + std::to_string(p) + "] must be an array");
    std::vector<std::string> ids;
    for (const auto& id : parts[p]) {
      if (!id.is_string())
        throw Error(path + ": parts[" + std::to_string(p) + "] holds " + id.dump() +
                    ", not an image id string");
      if (!seen.insert(id.get<std::string>()).second)
        throw Error(path + ": image '" + id.get<std::string>() + "' is listed twice");
      ids.push_back(id.get<std::string>());
    }
    split.parts.push_back(std::move(ids));
  }
  return split;
}

std::vector<Sample> select_samples(const std::vector<Sample>& samples,
                                   const std::vector<std::string>& ids) {
  std::map<std::string, const Sample*> by_id;
  for (const auto& s : samples) by_id[s.image_id] = &s;
  std::vector<Sample> selected;
  selected.reserve(ids.size());
  for (const auto& id : ids) {
    const auto found = by_id.find(id);
    if (found == by_id.end()) throw Error("image '" + id + "' of the split is not in the dataset");
    selected.push_back(*found->second);
  }
  return selected;
}

}  // namespace mbmd::data
