#include "mbmd/core/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "mbmd/core/config_path.h"
#include "mbmd/core/error.h"
#include "mbmd/core/json_file.h"

namespace mbmd {

namespace fs = std::filesystem;

namespace {

const char* type_name(const Json& value) {
  switch (value.type()) {
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "a list";
    case Json::value_t::string:
      return "text";
    case Json::value_t::boolean:
      return "true or false";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::number_float:
      return "a number";
    default:
      return "null";
  }
}

// Integers are accepted where a number is expected; everything else must keep its type.
bool same_kind(const Json& expected, const Json& given) {
  if (expected.is_number_float()) return given.is_number();
  if (expected.is_number_integer()) return given.is_number_integer();
  return expected.type() == given.type();
}

// Reads a file and its "_base_" chain into one patch, parents first.
Json read_with_bases(const fs::path& path, int depth) {
  if (depth > 16) throw Error("config file " + path.string() + ": _base_ chain is too deep");
  Json patch = read_json_file(path.string(), "config file");
  if (!patch.is_object())
    throw Error("config file " + path.string() + ": top level must be an object");
  Json merged = Json::object();
  if (patch.contains("_base_")) {
    if (!patch["_base_"].is_string())
      throw Error("config file " + path.string() + ": _base_ must be a file name");
    fs::path base = path.parent_path() / patch["_base_"].get<std::string>();
    merged = read_with_bases(base, depth + 1);
    patch.erase("_base_");
  }
  merged.merge_patch(patch);
  return merged;
}

Json parse_value(const std::string& text) {
  try {
    return Json::parse(text);
  } catch (const Json::exception&) {  // parse_error, or out_of_range for "1e400"
    return Json(text);
  }
}

std::vector<std::string> split_key(const std::string& dotted) {
  std::vector<std::string> parts;
  std::stringstream stream(dotted);
  std::string part;
  while (std::getline(stream, part, '.')) parts.push_back(part);
  return parts;
}

void merge_into(Json& base, const Json& patch, const std::string& prefix,
                const std::string& origin) {
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (!base.contains(it.key())) throw Error(origin + ": unknown config key '" + key + "'");
    Json& target = base[it.key()];
    if (target.is_object()) {
      if (!it.value().is_object())
        throw Error(origin + ": config key '" + key + "' must be an object");
      merge_into(target, it.value(), key, origin);
      continue;
    }
    if (!same_kind(target, it.value()))
      throw Error(origin + ": config key '" + key + "' must be " + type_name(target) + ", got " +
                  json_text(it.value()));
    if (target.is_array() && !target.empty()) {
      for (const auto& element : it.value())
        if (!same_kind(target.front(), element))
          throw Error(origin + ": config key '" + key + "' must hold " + type_name(target.front()) +
                      " values, got " + json_text(element));
    }
    target = it.value();
  }
}

void collect_differences(const Json& before, const Json& after, const std::string& prefix,
                         std::vector<ConfigDifference>& out) {
  if (before.is_object() && after.is_object()) {
    std::map<std::string, int> keys;  // sorted union of both trees' keys
    for (const auto& [k, v] : before.items()) keys[k] |= 1;
    for (const auto& [k, v] : after.items()) keys[k] |= 2;
    for (const auto& [k, sides] : keys) {
      const std::string key = prefix.empty() ? k : prefix + "." + k;
      if (sides == 3)
        collect_differences(before[k], after[k], key, out);
      else
        out.push_back({key, sides == 1 ? before[k].dump() : "absent",
                       sides == 2 ? after[k].dump() : "absent"});
    }
  } else if (before != after) {
    out.push_back({prefix, before.dump(), after.dump()});
  }
}

}  // namespace

void merge_config(Json& base, const Json& patch, const std::string& origin) {
  merge_into(base, patch, "", origin);
}

Json load_config(const std::string& name) {
  const fs::path path = resolve_config_path(name);
  Json config = default_config();
  merge_config(config, read_with_bases(path, 0), "config file " + path.string());
  return config;
}

void apply_overrides(Json& config, const std::vector<std::string>& assignments) {
  for (const auto& assignment : assignments) {
    const auto eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error("--set " + assignment + ": expected key=value");
    const std::string key = assignment.substr(0, eq);
    Json patch = parse_value(assignment.substr(eq + 1));
    const auto parts = split_key(key);
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) patch = Json{{*it, patch}};
    merge_config(config, patch, "--set " + assignment);
  }
}

const Json& config_at(const Json& config, const std::string& dotted_key) {
  const Json* node = &config;
  for (const auto& part : split_key(dotted_key)) {
    if (!node->is_object() || !node->contains(part))
      throw Error("config key '" + dotted_key + "' is missing");
    node = &(*node)[part];
  }
  return *node;
}

std::vector<ConfigDifference> config_differences(const Json& before, const Json& after) {
  std::vector<ConfigDifference> out;
  collect_differences(before, after, "", out);
  return out;
}

bool is_run_environment_key(const std::string& dotted_key) {
  static const std::vector<std::string> keys = {"runtime.threads", "runtime.device",
                                                "data.workers",    "data.root",
                                                "data.cache",      "train.log_interval"};
  return std::find(keys.begin(), keys.end(), dotted_key) != keys.end();
}

}  // namespace mbmd
