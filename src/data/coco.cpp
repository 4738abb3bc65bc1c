#include "mbmd/data/coco.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "mbmd/core/error.h"
#include "mbmd/core/json_file.h"

namespace mbmd::data {
namespace {

namespace fs = std::filesystem;

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

// Where relative file names start: the option, the file's info.image_root, the file's folder.
std::string image_root_of(const Json& root, const std::string& path,
                          const CocoReadOptions& options) {
  std::string image_root = options.image_root;
  if (image_root.empty() && root.is_object() && root.contains("info") && root["info"].is_object())
    image_root = optional_string(root["info"], "image_root", path + ": info");
  if (image_root.empty()) image_root = fs::path(path).parent_path().string();
  return image_root;
}

// The categories (an array) in file order; returns category id -> label.
std::map<long long, int64_t> read_categories(const Json& categories, const std::string& path,
                                             Dataset& dataset) {
  std::map<long long, int64_t> label_of;
  for (std::size_t i = 0; i < categories.size(); ++i) {
    const std::string where = path + ": categories[" + std::to_string(i) + "]";
    const long long id = integer(member(categories[i], "id", where), where, "id");
    if (!label_of.emplace(id, static_cast<int64_t>(i)).second)
      throw Error(where + ": category id " + std::to_string(id) + " appears twice");
    dataset.categories.push_back(optional_string(categories[i], "name", where));
  }
  return label_of;
}

// One entry of 'images', without its boxes.
Sample image_sample(const Json& image, const std::string& where, const std::string& image_root,
                    long long id) {
  Sample sample;
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
  if (image.contains("frame")) {
    sample.frame = static_cast<int>(integer(image["frame"], where, "frame"));
    // Files written before "slice_display" existed held slices of BCS-DBT volumes only.
    sample.slice_display =
        image.contains("slice_display") ? optional_string(image, "slice_display", where) : "bcsdbt";
  }
  if (image.contains("lesion_without_location")) {
    if (!image["lesion_without_location"].is_boolean())
      throw Error(where + ": 'lesion_without_location' must be true or false");
    sample.lesion_without_location = image["lesion_without_location"].get<bool>();
  }
  return sample;
}

// The images (an array) in file order; returns image id -> index of its sample.
std::map<long long, std::size_t> read_images(const Json& images, const std::string& path,
                                             const std::string& image_root, Dataset& dataset) {
  std::map<long long, std::size_t> index_of;
  for (std::size_t i = 0; i < images.size(); ++i) {
    const std::string where = path + ": images[" + std::to_string(i) + "]";
    const long long id = integer(member(images[i], "id", where), where, "id");
    Sample sample = image_sample(images[i], where, image_root, id);
    if (!index_of.emplace(id, dataset.samples.size()).second)
      throw Error(where + ": image id " + std::to_string(id) + " appears twice");
    dataset.samples.push_back(std::move(sample));
  }
  return index_of;
}

// The boxes and labels of every sample, gathered from 'annotations' before they become tensors.
struct Annotations {
  const std::map<long long, std::size_t>& index_of;  // image id -> sample
  const std::map<long long, int64_t>& label_of;      // category id -> label
  std::vector<std::vector<float>> boxes;
  std::vector<std::vector<int64_t>> labels;
};

// One annotation: its box joins its image's, or (a crowd region) is listed as excluded.
void add_annotation(const Json& a, const std::string& where, Annotations& found, Dataset& dataset) {
  const long long image_id = integer(member(a, "image_id", where), where, "image_id");
  const auto image = found.index_of.find(image_id);
  if (image == found.index_of.end())
    throw Error(where + ": image_id " + std::to_string(image_id) + " is not in 'images'");
  const long long category = integer(member(a, "category_id", where), where, "category_id");
  const auto label = found.label_of.find(category);
  if (label == found.label_of.end())
    throw Error(where + ": category_id " + std::to_string(category) + " is not in 'categories'");
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
                std::to_string(sample.width) + "x" + std::to_string(sample.height) + " image " +
                sample.image_id);
  if (a.contains("iscrowd") && a["iscrowd"].is_number() && a["iscrowd"].get<double>() != 0) {
    // Crowd regions are not objects to detect (pycocotools ignores them in evaluation).
    dataset.excluded.push_back({where, "crowd annotation (iscrowd 1) left out"});
    return;
  }
  auto& b = found.boxes[image->second];
  b.insert(b.end(), {static_cast<float>(x), static_cast<float>(y), static_cast<float>(x + w),
                     static_cast<float>(y + h)});
  found.labels[image->second].push_back(label->second);
}

// The entry of 'images' for sample `s`: file_name relative to `base` when the file lies under it.
Json image_entry(const Sample& s, long long image_id, const fs::path& base) {
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
  if (s.frame >= 0) {
    image["frame"] = s.frame;
    image["slice_display"] = s.slice_display;
  }
  if (s.lesion_without_location) image["lesion_without_location"] = true;
  return image;
}

// Appends the annotations of sample `s` (numbered on from `annotation_id`).
void add_annotations(const Sample& s, long long image_id, const Dataset& dataset,
                     const std::string& path, long long& annotation_id, Json& annotations) {
  const int64_t n = s.boxes.defined() ? s.boxes.size(0) : 0;
  if (n == 0) return;
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

}  // namespace

Dataset read_coco(const std::string& path, const CocoReadOptions& options) {
  const Json root = read_json_file(path, "COCO file");
  Dataset dataset;
  dataset.name = "coco";
  const std::string image_root = image_root_of(root, path, options);
  dataset.root = image_root;

  const Json& categories = member(root, "categories", path);
  const Json& images = member(root, "images", path);
  if (!categories.is_array()) throw Error(path + ": 'categories' must be an array");
  if (!images.is_array()) throw Error(path + ": 'images' must be an array");
  const auto label_of = read_categories(categories, path, dataset);
  const auto index_of = read_images(images, path, image_root, dataset);
  Annotations found{index_of, label_of, {}, {}};
  found.boxes.resize(dataset.samples.size());
  found.labels.resize(dataset.samples.size());
  if (root.contains("annotations")) {
    const Json& annotations = root["annotations"];
    if (!annotations.is_array()) throw Error(path + ": 'annotations' must be an array");
    for (std::size_t i = 0; i < annotations.size(); ++i) {
      const std::string where = path + ": annotations[" + std::to_string(i) + "]";
      run_or_skip(options.skip_bad, where, dataset.skipped,
                  [&] { add_annotation(annotations[i], where, found, dataset); });
    }
  }
  for (std::size_t i = 0; i < dataset.samples.size(); ++i)
    set_boxes(dataset.samples[i], found.boxes[i], found.labels[i]);
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
    const long long image_id = static_cast<long long>(i) + 1;
    images.push_back(image_entry(dataset.samples[i], image_id, base));
    add_annotations(dataset.samples[i], image_id, dataset, path, annotation_id, annotations);
  }
  root["images"] = std::move(images);
  root["annotations"] = std::move(annotations);
  root["categories"] = std::move(categories);
  write_json_file(path, root, 1);
}

}  // namespace mbmd::data
