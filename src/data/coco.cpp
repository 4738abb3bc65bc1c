#include "mbmd/data/coco.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mbmd/core/error.h"
#include "mbmd/data/image_io.h"

namespace mbmd::data {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

const Json& member(const Json& object, const char* key, const std::string& where) {
  if (!object.is_object()) throw Error(where + ": expected a json object");
  const auto found = object.find(key);
  if (found == object.end()) throw Error(where + ": missing key '" + key + "'");
  return *found;
}

std::string optional_string(const Json& object, const char* key, const std::string& where) {
  const auto found = object.find(key);
  if (found == object.end() || found->is_null()) return "";
  if (found->is_string()) return found->get<std::string>();
  if (found->is_number_integer()) return std::to_string(found->get<long long>());
  throw Error(where + ": '" + key + "' must be a string");
}

long long integer(const Json& value, const std::string& where, const char* key) {
  if (!value.is_number_integer())
    throw Error(where + ": '" + key + "' must be an integer, got " + value.dump());
  return value.get<long long>();
}

// Integral values as json integers ([338, 401, 394, 394]), others as they are.
Json number(double value) {
  if (value == static_cast<double>(static_cast<long long>(value)))
    return static_cast<long long>(value);
  return value;
}

}  // namespace

Dataset read_coco(const std::string& path, const CocoReadOptions& options) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open the COCO file");
  Json root;
  try {
    root = Json::parse(in);
  } catch (const Json::parse_error& e) {
    throw Error(path + ": malformed json: " + e.what());
  }
  Dataset dataset;
  dataset.name = "coco";
  std::string image_root = options.image_root;
  if (image_root.empty() && root.is_object() && root.contains("info") && root["info"].is_object())
    image_root = optional_string(root["info"], "image_root", path + ": info");
  if (image_root.empty()) image_root = fs::path(path).parent_path().string();
  dataset.root = image_root;

  const Json& categories = member(root, "categories", path);
  const Json& images = member(root, "images", path);
  if (!categories.is_array()) throw Error(path + ": 'categories' must be an array");
  if (!images.is_array()) throw Error(path + ": 'images' must be an array");
  std::map<long long, int64_t> label_of;
  for (std::size_t i = 0; i < categories.size(); ++i) {
    const std::string where = path + ": categories[" + std::to_string(i) + "]";
    const long long id = integer(member(categories[i], "id", where), where, "id");
    if (!label_of.emplace(id, static_cast<int64_t>(i)).second)
      throw Error(where + ": category id " + std::to_string(id) + " appears twice");
    dataset.categories.push_back(optional_string(categories[i], "name", where));
  }

  std::map<long long, std::size_t> index_of;
  std::vector<std::vector<float>> boxes;
  std::vector<std::vector<int64_t>> labels;
  for (std::size_t i = 0; i < images.size(); ++i) {
    const std::string where = path + ": images[" + std::to_string(i) + "]";
    const Json& image = images[i];
    Sample sample;
    const long long id = integer(member(image, "id", where), where, "id");
    const Json& file_name = member(image, "file_name", where);
    if (!file_name.is_string()) throw Error(where + ": 'file_name' must be a string");
    const fs::path file(file_name.get<std::string>());
    sample.file = file.is_absolute() ? file.string() : (fs::path(image_root) / file).string();
    sample.width = static_cast<int>(integer(member(image, "width", where), where, "width"));
    sample.height = static_cast<int>(integer(member(image, "height", where), where, "height"));
    if (sample.width <= 0 || sample.height <= 0) throw Error(where + ": width/height must be > 0");
    sample.image_id = optional_string(image, "image_name", where);
    if (sample.image_id.empty()) sample.image_id = std::to_string(id);
    sample.patient_id = optional_string(image, "patient_id", where);
    sample.laterality = optional_string(image, "laterality", where);
    sample.view = optional_string(image, "view", where);
    if (image.contains("bit_depth"))
      sample.bit_depth = static_cast<int>(integer(image["bit_depth"], where, "bit_depth"));
    if (image.contains("frame"))
      sample.frame = static_cast<int>(integer(image["frame"], where, "frame"));
    if (image.contains("lesion_without_location")) {
      if (!image["lesion_without_location"].is_boolean())
        throw Error(where + ": 'lesion_without_location' must be true or false");
      sample.lesion_without_location = image["lesion_without_location"].get<bool>();
    }
    if (!index_of.emplace(id, dataset.samples.size()).second)
      throw Error(where + ": image id " + std::to_string(id) + " appears twice");
    dataset.samples.push_back(std::move(sample));
  }
  boxes.resize(dataset.samples.size());
  labels.resize(dataset.samples.size());

  if (root.contains("annotations")) {
    const Json& annotations = root["annotations"];
    if (!annotations.is_array()) throw Error(path + ": 'annotations' must be an array");
    for (std::size_t i = 0; i < annotations.size(); ++i) {
      const std::string where = path + ": annotations[" + std::to_string(i) + "]";
      run_or_skip(options.skip_bad, where, dataset.skipped, [&] {
        const Json& a = annotations[i];
        const long long image_id = integer(member(a, "image_id", where), where, "image_id");
        const auto image = index_of.find(image_id);
        if (image == index_of.end())
          throw Error(where + ": image_id " + std::to_string(image_id) + " is not in 'images'");
        const long long category = integer(member(a, "category_id", where), where, "category_id");
        const auto label = label_of.find(category);
        if (label == label_of.end())
          throw Error(where + ": category_id " + std::to_string(category) +
                      " is not in 'categories'");
        const Json& bbox = member(a, "bbox", where);
        if (!bbox.is_array() || bbox.size() != 4 ||
            !std::all_of(bbox.begin(), bbox.end(), [](const Json& v) { return v.is_number(); }))
          throw Error(where + ": 'bbox' must be [x, y, w, h], got " + bbox.dump());
        const double x = bbox[0].get<double>(), y = bbox[1].get<double>();
        const double w = bbox[2].get<double>(), h = bbox[3].get<double>();
        const Sample& sample = dataset.samples[image->second];
        if (w < 0 || h < 0)
          throw Error(where + ": bbox " + bbox.dump() + " has a negative width or height");
        if (x < 0 || y < 0 || x + w > sample.width || y + h > sample.height)
          throw Error(where + ": bbox " + bbox.dump() + " lies outside the " +
                      std::to_string(sample.width) + "x" + std::to_string(sample.height) +
                      " image " + sample.image_id);
        if (a.contains("iscrowd") && a["iscrowd"].is_number() && a["iscrowd"].get<double>() != 0) {
          // Crowd regions are not objects to detect (pycocotools ignores them in evaluation).
          dataset.excluded.push_back({where, "crowd annotation (iscrowd 1) left out"});
          return;
        }
        auto& b = boxes[image->second];
        b.insert(b.end(), {static_cast<float>(x), static_cast<float>(y), static_cast<float>(x + w),
                           static_cast<float>(y + h)});
        labels[image->second].push_back(label->second);
      });
    }
  }
  for (std::size_t i = 0; i < dataset.samples.size(); ++i) {
    const auto n = static_cast<int64_t>(labels[i].size());
    Sample& sample = dataset.samples[i];
    sample.boxes = at::empty({n, 4}, at::kFloat);
    sample.labels = at::empty({n}, at::kLong);
    std::copy(boxes[i].begin(), boxes[i].end(), sample.boxes.data_ptr<float>());
    std::copy(labels[i].begin(), labels[i].end(), sample.labels.data_ptr<int64_t>());
  }
  return dataset;
}

void write_coco(const std::string& path, const Dataset& dataset, const CocoWriteOptions& options) {
  Json root;
  const fs::path base =
      options.image_root.empty() ? fs::path() : fs::absolute(options.image_root).lexically_normal();
  root["info"] = {{"description", "written by mbmd from the " + dataset.name + " dataset"},
                  {"image_root", base.string()}};
  Json categories = Json::array();
  for (std::size_t i = 0; i < dataset.categories.size(); ++i)
    categories.push_back({{"id", i + 1}, {"name", dataset.categories[i]}});
  Json images = Json::array();
  Json annotations = Json::array();
  long long annotation_id = 0;
  for (std::size_t i = 0; i < dataset.samples.size(); ++i) {
    const Sample& s = dataset.samples[i];
    const long long image_id = static_cast<long long>(i) + 1;
    const fs::path file = fs::absolute(s.file).lexically_normal();
    std::string file_name = file.string();
    if (!base.empty()) {
      const fs::path relative = file.lexically_relative(base);
      if (!relative.empty() && *relative.begin() != "..") file_name = relative.string();
    }
    Json image = {{"id", image_id},
                  {"file_name", file_name},
                  {"width", s.width},
                  {"height", s.height},
                  {"image_name", s.image_id},
                  {"patient_id", s.patient_id},
                  {"laterality", s.laterality},
                  {"view", s.view},
                  {"bit_depth", s.bit_depth}};
    if (s.frame >= 0) image["frame"] = s.frame;
    if (s.lesion_without_location) image["lesion_without_location"] = true;
    images.push_back(image);
    const int64_t n = s.boxes.defined() ? s.boxes.size(0) : 0;
    if (n == 0) continue;
    const at::Tensor boxes = s.boxes.to(at::kFloat).contiguous();
    const at::Tensor labels = s.labels.to(at::kLong).contiguous();
    if (labels.numel() != n)
      throw Error(path + ": sample " + s.image_id + " has " + std::to_string(n) + " boxes but " +
                  std::to_string(labels.numel()) + " labels");
    const float* b = boxes.data_ptr<float>();
    const int64_t* l = labels.data_ptr<int64_t>();
    for (int64_t k = 0; k < n; ++k) {
      if (l[k] < 0 || l[k] >= static_cast<int64_t>(dataset.categories.size()))
        throw Error(path + ": sample " + s.image_id + " has label " + std::to_string(l[k]) +
                    " but the dataset has " + std::to_string(dataset.categories.size()) +
                    " categories");
      const double x1 = b[4 * k], y1 = b[4 * k + 1], x2 = b[4 * k + 2], y2 = b[4 * k + 3];
      const double w = x2 - x1, h = y2 - y1;
      annotations.push_back({{"id", ++annotation_id},
                             {"image_id", image_id},
                             {"category_id", l[k] + 1},
                             {"bbox", {number(x1), number(y1), number(w), number(h)}},
                             {"area", number(w * h)},
                             {"iscrowd", 0}});
    }
  }
  root["images"] = std::move(images);
  root["annotations"] = std::move(annotations);
  root["categories"] = std::move(categories);
  write_file_atomic(path, root.dump(1) + "\n");
}

}  // namespace mbmd::data
