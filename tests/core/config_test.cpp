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
