// The patient-level bootstrap: stratified draws, resampled sets, numpy's percentile, intervals.
#include "mbmd/eval/bootstrap.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "eval/eval_builders.h"
#include "mbmd/core/error.h"
#include "mbmd/eval/metric_names.h"
#include "mbmd_paths.h"

namespace mbmd::engine {
namespace {

// Six patients: p0..p2 with a mass (p0 has two films), p3..p5 without; one detection per film,
// hits on p0's first film and p1, a false positive on p3.
EvalSet six_patients() {
  EvalSet set;
  const std::vector<std::pair<std::string, std::string>> films = {
      {"a", "p0"}, {"b", "p0"}, {"c", "p1"}, {"d", "p2"}, {"e", "p3"}, {"f", "p4"}, {"g", "p5"}};
  for (const auto& [image, patient] : films) {
    set.image_ids.push_back(image);
    set.patient_ids.push_back(patient);
  }
  for (const char* image : {"a", "c", "d"})
    set.ground_truths.push_back(test::gt(image, {10, 10, 50, 50}));
  set.detections.push_back(test::det("a", {12, 12, 50, 50}, 0.9));
  set.detections.push_back(test::det("c", {10, 10, 48, 52}, 0.8));
  set.detections.push_back(test::det("e", {0, 0, 20, 20}, 0.7));
  return set;
}

TEST(Bootstrap, DrawsKeepTheMixOfPatientsWithAndWithoutMasses) {
  const EvalSet set = six_patients();
  BootstrapOptions options;
  options.resamples = 50;
  const auto draws = draw_patient_resamples(set, options);
  ASSERT_EQ(draws.size(), 50u);
  const std::set<std::string> with = {"p0", "p1", "p2"};
  bool varied = false;
  for (const auto& drawn : draws) {
    ASSERT_EQ(drawn.size(), 6u);
    for (size_t k = 0; k < 3; ++k) EXPECT_TRUE(with.count(drawn[k])) << drawn[k];
    for (size_t k = 3; k < 6; ++k) EXPECT_FALSE(with.count(drawn[k])) << drawn[k];
    varied |= drawn != draws.front();
  }
  EXPECT_TRUE(varied);
  EXPECT_EQ(draw_patient_resamples(set, options), draws);  // the seed fixes the draws
  options.seed = 1;
  EXPECT_NE(draw_patient_resamples(set, options), draws);
}

TEST(Bootstrap, ResampledSetRepeatsAPatientsFilmsUnderNewIds) {
  const EvalSet resampled = resampled_set(six_patients(), {"p0", "p0", "p3"});
  EXPECT_EQ(resampled.image_ids, (std::vector<std::string>{"a", "b", "a#1", "b#1", "e"}));
  EXPECT_EQ(resampled.ground_truths.size(), 2u);  // a and a#1
  EXPECT_EQ(resampled.detections.size(), 3u);     // a, a#1, e
  EXPECT_EQ(resampled.detections[1].image_id, "a#1");
}

// numpy.percentile(v, q) with its default linear interpolation, computed by
// tools/bootstrap_percentile_reference.py.
TEST(Bootstrap, PercentileAsNumpy) {
  const std::vector<double> v = {0.3, 0.1, 0.7, 0.5, 0.9, 0.2, 0.4};
  EXPECT_NEAR(percentile(v, 2.5), 0.115, 1e-12);
  EXPECT_NEAR(percentile(v, 50), 0.4, 1e-12);
  EXPECT_NEAR(percentile(v, 97.5), 0.87, 1e-12);
  EXPECT_NEAR(percentile({0.25, 0.75}, 2.5), 0.2625, 1e-12);
  EXPECT_DOUBLE_EQ(percentile({0.5}, 97.5), 0.5);
  EXPECT_DOUBLE_EQ(percentile({}, 50), -1);
}

TEST(Bootstrap, IntervalsHoldTheValueAndCollapseWhenPatientsAgree) {
  EvalOptions eval;
  eval.score_thr = 0.5;
  BootstrapOptions options;
  options.resamples = 200;
  const auto intervals =
      bootstrap_intervals(six_patients(), eval, {"ap50", "tpr", "fppi"}, options);
  const auto& tpr = intervals.at("tpr");
  EXPECT_NEAR(tpr.value, 2.0 / 3.0, 1e-9);  // two of three masses found
  EXPECT_LE(tpr.low, tpr.value);
  EXPECT_GE(tpr.high, tpr.value);
  EXPECT_LT(tpr.low, tpr.high);
  EXPECT_EQ(tpr.defined, 200);
  EXPECT_GE(intervals.at("ap50").low, 0.0);
  // Every patient alike (one film, one found mass): nothing varies.
  EvalSet same;
  for (const char* id : {"x", "y", "z"}) {
    same.image_ids.push_back(id);
    same.ground_truths.push_back(test::gt(id, {0, 0, 10, 10}));
    same.detections.push_back(test::det(id, {0, 0, 10, 10}, 0.9));
  }
  const auto flat = bootstrap_intervals(same, eval, {"tpr"}, options).at("tpr");
  EXPECT_DOUBLE_EQ(flat.low, 1.0);
  EXPECT_DOUBLE_EQ(flat.high, 1.0);
  EXPECT_THROW(bootstrap_intervals(same, eval, {"ap0"}, options), Error);
}

TEST(Bootstrap, FrocBandGridRunsFromAnEighthToEightOnTheCpmPoints) {
  const auto grid = froc_band_fppis();
  ASSERT_EQ(grid.size(), 25u);
  EXPECT_DOUBLE_EQ(grid.front(), 0.125);
  EXPECT_DOUBLE_EQ(grid.back(), 8.0);
  for (size_t k = 1; k < grid.size(); ++k)
    EXPECT_NEAR(grid[k] / grid[k - 1], std::exp2(0.25), 1e-12);
  for (double cpm_point : cpm_fppi_points())
    EXPECT_NE(std::find(grid.begin(), grid.end(), cpm_point), grid.end()) << cpm_point;
}

// Twenty patients, ten with a mass: masses found at falling scores, false positives between
// them, so that the FROC climbs over the whole band.
EvalSet twenty_patients() {
  EvalSet set;
  for (int p = 0; p < 20; ++p) {
    const std::string id = "i" + std::to_string(p);
    set.image_ids.push_back(id);
    set.patient_ids.push_back("p" + std::to_string(p));
    if (p < 10) {
      set.ground_truths.push_back(test::gt(id, {10, 10, 50, 50}));
      if (p < 8) set.detections.push_back(test::det(id, {10, 10, 50, 50}, 0.95 - 0.1 * p));
    }
    set.detections.push_back(test::det(id, {100, 100, 120, 120}, 0.9 - 0.045 * p));
  }
  return set;
}

TEST(Bootstrap, FrocBandBracketsTheCurveAndAgreesWithTheSensitivityMetrics) {
  const EvalSet set = twenty_patients();
  BootstrapOptions options;
  options.resamples = 300;
  const std::vector<std::string> metrics = {"sens@0.125", "sens@0.5", "sens@1", "sens@8"};
  const BootstrapResult result = bootstrap_with_froc_band(set, EvalOptions{}, metrics, options);
  ASSERT_EQ(result.froc_band.size(), froc_band_fppis().size());
  const EvalResult whole = evaluate(set);
  bool varies = false;
  for (const FrocBandPoint& p : result.froc_band) {
    EXPECT_DOUBLE_EQ(p.sensitivity, froc_sensitivity_at(whole, p.fppi)) << p.fppi;
    EXPECT_EQ(p.defined, 300) << p.fppi;
    EXPECT_LE(p.low, p.sensitivity) << p.fppi;
    EXPECT_GE(p.high, p.sensitivity) << p.fppi;
    varies |= p.high > p.low;
  }
  EXPECT_TRUE(varies);
  // The band at the CPM's points is the sensitivity metric's interval from the same resamples.
  for (const auto& name : metrics) {
    const double fppi = sens_metric_fppi(name);
    const auto at = std::find_if(result.froc_band.begin(), result.froc_band.end(),
                                 [&](const FrocBandPoint& p) { return p.fppi == fppi; });
    ASSERT_NE(at, result.froc_band.end()) << name;
    const MetricInterval& m = result.metrics.at(name);
    EXPECT_DOUBLE_EQ(at->sensitivity, m.value) << name;
    EXPECT_DOUBLE_EQ(at->low, m.low) << name;
    EXPECT_DOUBLE_EQ(at->high, m.high) << name;
  }
  // The metrics alone are as before the band.
  const auto plain = bootstrap_intervals(set, EvalOptions{}, metrics, options);
  for (const auto& name : metrics)
    EXPECT_DOUBLE_EQ(plain.at(name).low, result.metrics.at(name).low);
  const nlohmann::json j = bootstrap_to_json(result, options);
  ASSERT_EQ(j["froc_band"].size(), 25u);
  EXPECT_EQ(j["froc_band"][0]["fppi"], 0.125);
  for (const char* key : {"sensitivity", "low", "high", "defined"})
    EXPECT_TRUE(j["froc_band"][0].contains(key)) << key;
  EXPECT_FALSE(bootstrap_to_json({result.metrics, {}}, options).contains("froc_band"));
}

TEST(Bootstrap, FrocSensitivityIsUndefinedWithoutMasses) {
  EvalSet normals;
  normals.image_ids = {"x"};
  normals.detections.push_back(test::det("x", {0, 0, 5, 5}, 0.5));
  EXPECT_DOUBLE_EQ(froc_sensitivity_at(evaluate(normals), 1.0), -1.0);
  // The best detection finds a mass before any false positive: 1 of 10 at FPPI 0.
  EXPECT_DOUBLE_EQ(froc_sensitivity_at(evaluate(twenty_patients()), 0.01), 0.1);
  EvalSet false_first = twenty_patients();
  false_first.detections.push_back(test::det("i15", {200, 200, 220, 220}, 0.99));
  EXPECT_DOUBLE_EQ(froc_sensitivity_at(evaluate(false_first), 0.01), 0.0);
}

// The intervals on fixed resamples equal an independent numpy computation of the same rules
// (tools/make_bootstrap_reference.py wrote the set, the resamples and the expected numbers).
TEST(Bootstrap, IntervalsOnFixedResamplesMatchTheNumpyReference) {
  std::ifstream in(std::string(MBMD_SOURCE_DIR) + "/tests/fixtures/eval/bootstrap_reference.json");
  ASSERT_TRUE(in) << "fixture missing";
  const nlohmann::json ref = nlohmann::json::parse(in);
  EvalSet set;
  set.image_ids = ref["set"]["image_ids"].get<std::vector<std::string>>();
  set.patient_ids = ref["set"]["patient_ids"].get<std::vector<std::string>>();
  const auto box_of = [](const nlohmann::json& b) {
    return Box{b[0].get<double>(), b[1].get<double>(), b[2].get<double>(), b[3].get<double>()};
  };
  for (const auto& g : ref["set"]["ground_truths"])
    set.ground_truths.push_back(test::gt(g["image_id"].get<std::string>(), box_of(g["box"])));
  for (const auto& d : ref["set"]["detections"])
    set.detections.push_back(
        test::det(d["image_id"].get<std::string>(), box_of(d["box"]), d["score"].get<double>()));
  EvalOptions options;
  options.hit_iou = ref["hit_iou"].get<double>();
  options.fppi_cap = ref["fppi_cap"].get<double>();
  std::vector<std::string> metrics;
  for (const auto& [name, expected] : ref["expected"].items()) metrics.push_back(name);
  const auto resamples = ref["resamples"].get<std::vector<std::vector<std::string>>>();
  const auto intervals = intervals_over_resamples(set, options, metrics, resamples, 0.95);
  for (const auto& [name, expected] : ref["expected"].items()) {
    const MetricInterval& got = intervals.at(name);
    EXPECT_NEAR(got.value, expected["value"].get<double>(), 1e-9) << name;
    EXPECT_NEAR(got.low, expected["low"].get<double>(), 1e-9) << name;
    EXPECT_NEAR(got.high, expected["high"].get<double>(), 1e-9) << name;
    EXPECT_EQ(got.defined, static_cast<int64_t>(resamples.size())) << name;
  }
}

}  // namespace
}  // namespace mbmd::engine
