// eval.variant: the model a cv fold is evaluated as.
#include "fold_detector.h"

#include <gtest/gtest.h>

#include "mbmd/core/error.h"

namespace mbmd::engine {
namespace {

TEST(FoldVariant, ParsesTheFourVariantsAndNamesTheKeyOtherwise) {
  auto variant = [](const Json& value) {
    Json config = default_config();
    config["eval"]["variant"] = value;
    return parse_fold_variant(config);
  };
  EXPECT_FALSE(variant("single").flip);
  EXPECT_FALSE(variant("single").snapshot);
  EXPECT_TRUE(variant("flip").flip);
  EXPECT_FALSE(variant("flip").snapshot);
  EXPECT_TRUE(variant("snapshot").snapshot);
  EXPECT_TRUE(variant("flip+snapshot").flip && variant("flip+snapshot").snapshot);
  Json old = default_config();
  old["eval"].erase("variant");  // a config written before the key: single
  EXPECT_FALSE(parse_fold_variant(old).flip);
  for (const Json& bad : {Json("mirror"), Json(1)}) {
    try {
      variant(bad);
      FAIL() << bad.dump() << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("eval.variant"), std::string::npos) << e.what();
    }
  }
}

TEST(FoldVariant, EvaluatedAsTextNamesTheVariantAndTheThresholdRule) {
  Json config = default_config();
  config["eval"]["variant"] = "flip+snapshot";
  config["eval"]["threshold_rule"] = "middle";
  EXPECT_EQ(evaluated_as_text(config),
            "eval.variant flip+snapshot; threshold on each fold's validation part: best TPR at "
            "FPPI <= 1, middle of the tied thresholds");
  config["eval"]["score_thr"] = 0.25;
  EXPECT_EQ(evaluated_as_text(config),
            "eval.variant flip+snapshot; threshold given: eval.score_thr 0.25");
  config["eval"]["threshold_rule"] = "median";
  EXPECT_THROW(evaluated_as_text(config), Error);
}

// A run checks its eval section before it writes anything: each bad key is named.
TEST(FoldVariant, CheckEvalSectionNamesTheBadKey) {
  EXPECT_NO_THROW(check_eval_section(default_config()));
  for (const auto& [key, value] : {std::pair<const char*, Json>{"variant", "mirror"},
                                   {"threshold_rule", "median"},
                                   {"threshold_rule", 1},
                                   {"count_normals", "yes"}}) {
    Json config = default_config();
    config["eval"][key] = value;
    try {
      check_eval_section(config);
      FAIL() << key << " = " << value.dump() << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("eval.") + key), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace mbmd::engine
