// Configuration: a JSON tree of documented keys with mmdetection 2.x defaults.
//
// A config file (.json) may name a parent with "_base_" (a path relative to the file); the
// parent chain is merged onto the built-in defaults. Every key must already exist in the defaults
// and keep its type, so a misspelt key or a wrong value is an error that names it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mbmd {

using Json = nlohmann::json;

// The full default tree: every key the product understands (docs/config.md describes them).
const Json& default_config();

// Loads a config file onto the defaults. `name` may be a path or the name of a file under the
// project's configs/ folder without its extension ("mbmdnet_r50_mhfpn").
Json load_config(const std::string& name);

// Applies "a.b.c=value" assignments; the value is parsed as JSON when it parses, else as text.
void apply_overrides(Json& config, const std::vector<std::string>& assignments);

// Merges `patch` onto `base`, checking that each key exists and keeps its type; `origin` names
// where the patch came from in error messages.
void merge_config(Json& base, const Json& patch, const std::string& origin);

// Looks up a dotted key ("model.neck.type"), throwing mbmd::Error when it is absent.
const Json& config_at(const Json& config, const std::string& dotted_key);

// One key whose value differs between two configs, as "key: BEFORE -> AFTER" (a key present in
// one tree only shows "absent" on the other side).
struct ConfigDifference {
  std::string key;            // dotted
  std::string before, after;  // JSON text
};

// The leaf keys whose values differ between `before` and `after`, in key order.
std::vector<ConfigDifference> config_differences(const Json& before, const Json& after);

// Whether a dotted key decides only where and how fast a run goes, not what it computes
// (runtime.threads, runtime.device, data.workers, data.root, data.cache, train.log_interval): such
// keys may change when a run is resumed, on another machine or with the data moved.
bool is_run_environment_key(const std::string& dotted_key);

}  // namespace mbmd
