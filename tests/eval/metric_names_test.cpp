#include "mbmd/eval/metric_names.h"

#include <gtest/gtest.h>

#include "mbmd/core/error.h"

namespace mbmd::engine {
namespace {

TEST(MetricNames, ApAndSensitivityNames) {
  EXPECT_DOUBLE_EQ(ap_metric_iou("ap50"), 0.5);
  EXPECT_DOUBLE_EQ(ap_metric_iou("ap100"), 1.0);
  EXPECT_LT(ap_metric_iou("ap0"), 0);  // IoU 0 is no threshold at all
  EXPECT_LT(ap_metric_iou("ap101"), 0);
  EXPECT_LT(ap_metric_iou("ap"), 0);
  EXPECT_DOUBLE_EQ(sens_metric_fppi("sens@0.5"), 0.5);
  EXPECT_LT(sens_metric_fppi("sens@0"), 0);
  EXPECT_LT(sens_metric_fppi("sens@x"), 0);
  EXPECT_EQ(metric_display_name("ap20"), "AP@20");
  EXPECT_EQ(metric_display_name("sens@0.5"), "Sens@0.5 FPPI");
  EXPECT_EQ(metric_display_name("tpr"), "TPR");
}

// The trainer and cross-validation once disagreed: the trainer took "ap0" as a best metric.
TEST(MetricNames, BestMetricAgreesWithTheVocabulary) {
  EXPECT_NO_THROW(check_best_metric("ap50"));
  EXPECT_NO_THROW(check_best_metric("cpm"));
  EXPECT_NO_THROW(check_best_metric("tpr"));
  EXPECT_THROW(check_best_metric("ap0"), Error);
  EXPECT_THROW(check_best_metric("fppi"), Error);
  EXPECT_THROW(check_metric_name("ap0"), Error);
}

TEST(MetricNames, ValuesFromEvaluationJson) {
  const nlohmann::json m = {{"ap", {{"0.5", 0.25}}},
                            {"sensitivity_at", {{"0.25", 0.5}}},
                            {"tpr", 0.75},
                            {"score_thr", nullptr}};
  EXPECT_DOUBLE_EQ(metric_value(m, "ap50"), 0.25);
  EXPECT_DOUBLE_EQ(metric_value(m, "sens@0.25"), 0.5);
  EXPECT_DOUBLE_EQ(metric_value(m, "tpr"), 0.75);
  EXPECT_DOUBLE_EQ(metric_value(m, "score_thr"), -1.0);
  EXPECT_THROW(metric_value(m, "ap20"), Error);
}

}  // namespace
}  // namespace mbmd::engine
