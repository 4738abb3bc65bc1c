#include "mbmd/eval/coco_io.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "mbmd/core/error.h"

namespace mbmd::engine {
namespace {

using nlohmann::json;

json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open the file");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw Error(path + ": not valid JSON (" + std::string(e.what()) + ")");
  }
}

const json& key(const json& object, const char* name, const std::string& where) {
  if (!object.is_object()) throw Error(where + ": expected an object, got " + object.dump());
  const auto found = object.find(name);
  if (found == object.end()) throw Error(where + ": missing key '" + name + "'");
  return *found;
}

// Image ids are integers (COCO) or strings; both become text.
std::string id_text(const json& value, const std::string& where) {
  if (value.is_number_integer()) return std::to_string(value.get<int64_t>());
  if (value.is_string()) return value.get<std::string>();
  throw Error(where + ": expected an integer or a string id, got " + value.dump());
}

int64_t integer(const json& value, const std::string& where) {
  if (!value.is_number_integer()) throw Error(where + ": expected an integer, got " + value.dump());
  return value.get<int64_t>();
}

double number(const json& value, const std::string& where) {
  if (!value.is_number()) throw Error(where + ": expected a number, got " + value.dump());
  const double v = value.get<double>();
  if (!std::isfinite(v)) throw Error(where + ": expected a finite number, got " + value.dump());
  return v;
}

// [x, y, w, h] to x1 y1 x2 y2 (x2 = x + w, the sum pycocotools' IoU forms).
Box coco_box(const json& value, const std::string& where) {
  if (!value.is_array() || value.size() != 4)
    throw Error(where + ": bbox must be [x, y, w, h], got " + value.dump());
  double v[4];
  for (int i = 0; i < 4; ++i) {
    if (!value[i].is_number() || !std::isfinite(value[i].get<double>()))
      throw Error(where + ": bbox must hold four finite numbers, got " + value.dump());
    v[i] = value[i].get<double>();
  }
  if (v[2] < 0 || v[3] < 0)
    throw Error(where + ": bbox has a negative width or height: " + value.dump());
  return {v[0], v[1], v[0] + v[2], v[1] + v[3]};
}

const json& array_key(const json& doc, const char* name, const std::string& origin) {
  const json& value = key(doc, name, origin);
  if (!value.is_array())
    throw Error(origin + ": '" + name + "' must be a list, got " + value.type_name());
  return value;
}

// The image_id and category_id of an annotation or a result, each checked against the images
// and categories it may name; `of` says where those come from in the error ("in 'images'").
struct ImageAndCategory {
  std::string image_id;
  int64_t category = 0;
};

ImageAndCategory image_and_category(const json& entry, const std::string& where,
                                    const std::unordered_set<std::string>& images,
                                    const std::set<int64_t>& categories,
                                    const std::string& images_of,
                                    const std::string& categories_of) {
  ImageAndCategory out;
  out.image_id = id_text(key(entry, "image_id", where), where + ".image_id");
  if (!images.count(out.image_id))
    throw Error(where + ": image_id " + key(entry, "image_id", where).dump() + " is not " +
                images_of);
  out.category = integer(key(entry, "category_id", where), where + ".category_id");
  if (!categories.count(out.category))
    throw Error(where + ": category_id " + std::to_string(out.category) + " is not " +
                categories_of);
  return out;
}

}  // namespace

EvalSet parse_coco_ground_truth(const json& doc, const std::string& origin) {
  EvalSet set;
  const json& images = array_key(doc, "images", origin);
  const json& annotations = array_key(doc, "annotations", origin);
  const json& categories = array_key(doc, "categories", origin);

  bool numeric = false, text = false;
  std::vector<std::pair<int64_t, std::string>> ids;
  std::unordered_map<std::string, std::string> patient_of;
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < images.size(); ++i) {
    const std::string where = origin + ": images[" + std::to_string(i) + "]";
    const json& id = key(images[i], "id", where);
    const std::string name = id_text(id, where + ".id");
    (id.is_string() ? text : numeric) = true;
    if (!seen.insert(name).second) throw Error(where + ": image id " + id.dump() + " repeats");
    ids.emplace_back(id.is_string() ? 0 : id.get<int64_t>(), name);
    if (const auto p = images[i].find("patient_id"); p != images[i].end() && p->is_string())
      patient_of[name] = p->get<std::string>();
  }
  if (numeric && text) throw Error(origin + ": image ids mix integers and strings; use one kind");
  // pycocotools evaluates the images in sorted id order, which breaks ties between equal scores.
  std::sort(ids.begin(), ids.end());
  for (auto& [number_id, name] : ids) {
    set.patient_ids.push_back(patient_of.count(name) ? patient_of[name] : std::string());
    set.image_ids.push_back(std::move(name));
  }

  std::set<int64_t> category_ids;
  for (size_t i = 0; i < categories.size(); ++i) {
    const std::string where = origin + ": categories[" + std::to_string(i) + "]";
    if (!category_ids.insert(integer(key(categories[i], "id", where), where + ".id")).second)
      throw Error(where + ": category id repeats");
  }
  set.categories.assign(category_ids.begin(), category_ids.end());

  for (size_t i = 0; i < annotations.size(); ++i) {
    const std::string where = origin + ": annotations[" + std::to_string(i) + "]";
    const json& a = annotations[i];
    GroundTruth g;
    auto named = image_and_category(a, where, seen, category_ids, "in 'images'", "in 'categories'");
    g.image_id = std::move(named.image_id);
    g.category = named.category;
    g.box = coco_box(key(a, "bbox", where), where + ".bbox");
    if (const auto area = a.find("area"); area != a.end()) {
      g.area = number(*area, where + ".area");
      if (g.area < 0) throw Error(where + ": area must not be negative, got " + area->dump());
    } else {
      g.area = (g.box[2] - g.box[0]) * (g.box[3] - g.box[1]);
    }
    if (const auto crowd = a.find("iscrowd"); crowd != a.end()) {
      if (crowd->is_boolean())
        g.iscrowd = crowd->get<bool>();
      else if (crowd->is_number_integer() && (*crowd == 0 || *crowd == 1))
        g.iscrowd = crowd->get<int64_t>() == 1;
      else
        throw Error(where + ": iscrowd must be 0 or 1, got " + crowd->dump());
    }
    set.ground_truths.push_back(std::move(g));
  }
  return set;
}

EvalSet read_coco_ground_truth(const std::string& path) {
  return parse_coco_ground_truth(read_json(path), path);
}

std::vector<Detection> parse_coco_results(const json& doc, const EvalSet& gt,
                                          const std::string& origin) {
  if (!doc.is_array())
    throw Error(origin + ": a COCO results file must be a list of detections, got " +
                doc.type_name());
  const std::unordered_set<std::string> images(gt.image_ids.begin(), gt.image_ids.end());
  const std::vector<int64_t> category_list = evaluated_categories(gt);
  const std::set<int64_t> categories(category_list.begin(), category_list.end());
  std::vector<Detection> dets;
  dets.reserve(doc.size());
  for (size_t i = 0; i < doc.size(); ++i) {
    const std::string where = origin + ": [" + std::to_string(i) + "]";
    const json& r = doc[i];
    Detection d;
    auto named = image_and_category(r, where, images, categories, "an image of the ground truth",
                                    "a category of the ground truth");
    d.image_id = std::move(named.image_id);
    d.category = named.category;
    d.box = coco_box(key(r, "bbox", where), where + ".bbox");
    d.score = number(key(r, "score", where), where + ".score");
    dets.push_back(std::move(d));
  }
  return dets;
}

std::vector<Detection> read_coco_results(const std::string& path, const EvalSet& gt) {
  return parse_coco_results(read_json(path), gt, path);
}

}  // namespace mbmd::engine
