// Where config names are found, so that a moved or installed `mbmd` finds its configs from any
// folder (docs/config.md, "Where configs are found").
#pragma once

#include <string>
#include <vector>

namespace mbmd {

// The folders searched for a config name, in order: each folder of $MBMD_CONFIG_PATH (colon
// separated), then beside the running program: ../share/mbmd/configs (an installed program) and
// ../configs (a build folder inside the source tree), and last the source tree this build was
// configured from. Folders that do not exist are left out.
std::vector<std::string> config_search_path();

// A config file's path for `name`: a path to a file (with or without .json), or a name such as
// "mbmdnet_r50_mhfpn" or "mias/mbmdnet_r50_mhfpn_cpu" under a folder of config_search_path().
// mbmd::Error naming the name and the folders searched when there is none.
std::string resolve_config_path(const std::string& name);

}  // namespace mbmd
