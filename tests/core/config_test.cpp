#include "mbmd/core/config.h"

#include <gtest/gtest.h>

#include "mbmd/core/error.h"

namespace mbmd {
namespace {

TEST(Config, OverrideChangesExistingKey) {
  Json config = default_config();
  apply_overrides(config, {"model.neck.type=mhfpn", "model.num_classes=2"});
  EXPECT_EQ(config["model"]["neck"]["type"], "mhfpn");
  EXPECT_EQ(config["model"]["num_classes"], 2);
}

TEST(Config, DifferencesNameEachChangedLeafInKeyOrder) {
  const Json before = default_config();
  Json after = before;
  apply_overrides(after, {"train.lr=0.5", "model.neck.type=mhfpn"});
  after["model"]["extra"] = 1;
  const auto d = config_differences(before, after);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].key, "model.extra");
  EXPECT_EQ(d[0].before, "absent");
  EXPECT_EQ(d[0].after, "1");
  EXPECT_EQ(d[1].key, "model.neck.type");
  EXPECT_EQ(d[1].before, "\"fpn\"");
  EXPECT_EQ(d[1].after, "\"mhfpn\"");
  EXPECT_EQ(d[2].key, "train.lr");
  EXPECT_EQ(d[2].after, "0.5");
  EXPECT_TRUE(config_differences(after, after).empty());
}

// Where and how fast a run goes may change on resume; what it computes may not.
TEST(Config, RunEnvironmentKeysAreOnlyWhereAndHowFast) {
  for (const char* key : {"runtime.threads", "runtime.device", "data.workers", "data.root",
                          "data.cache", "train.log_interval"})
    EXPECT_TRUE(is_run_environment_key(key)) << key;
  for (const char* key : {"runtime.precision", "train.lr", "data.split_seed", "runtime", "data"})
    EXPECT_FALSE(is_run_environment_key(key)) << key;
}

TEST(Config, UnknownKeyIsNamed) {
  Json config = default_config();
  try {
    apply_overrides(config, {"model.neck.typo=fpn"});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.neck.typo"), std::string::npos) << e.what();
  }
}

TEST(Config, WrongTypeIsNamed) {
  Json config = default_config();
  EXPECT_THROW(apply_overrides(config, {"model.num_classes=two"}), Error);
  EXPECT_THROW(apply_overrides(config, {"model.num_classes=2.5"}), Error);
  EXPECT_THROW(apply_overrides(config, {"model.anchor.ratios=[1,\"a\"]"}), Error);
  apply_overrides(config, {"model.anchor.ratios=[1,2]"});
  EXPECT_EQ(config["model"]["anchor"]["ratios"].size(), 2u);
}

TEST(Config, MissingFileIsNamed) {
  try {
    load_config("/nonexistent/cfg.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/cfg.json"), std::string::npos);
  }
}

}  // namespace
}  // namespace mbmd
