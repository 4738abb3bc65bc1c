// The JSON object that `mbmd eval --json` prints after its progress lines, for the command tests.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace mbmd::testing {

// The object from the first '{' of `output`, checked to hold every metric eval reports (a failed
// expectation names the missing key); null when the output holds no object.
inline nlohmann::json eval_json(const std::string& output) {
  const auto start = output.find('{');
  EXPECT_NE(start, std::string::npos) << output;
  if (start == std::string::npos) return nullptr;
  const auto json = nlohmann::json::parse(output.substr(start));
  for (const char* key :
       {"ap", "ap50_small", "ap50_medium", "ap50_large", "tpr", "fppi", "froc", "cpm"})
    EXPECT_TRUE(json.contains(key)) << key << " missing in " << json.dump();
  if (json.contains("ap")) {
    EXPECT_TRUE(json["ap"].contains("0.5")) << json.dump();
  }
  return json;
}

}  // namespace mbmd::testing
