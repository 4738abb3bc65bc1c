// Paired comparison: the same patients drawn for both results, differences and their intervals.
#include "mbmd/eval/paired_bootstrap.h"

#include <gtest/gtest.h>

#include "eval/eval_builders.h"
#include "mbmd/core/error.h"

namespace mbmd::engine {
namespace {

// Eight films of eight patients, four with a mass; A finds two masses, B finds the same two and
// one more, each with one false positive on a normal film.
EvalSet films() {
  EvalSet set;
  for (int i = 0; i < 8; ++i) {
    set.image_ids.push_back("f" + std::to_string(i));
    set.patient_ids.push_back("p" + std::to_string(i));
  }
  for (int i = 0; i < 4; ++i)
    set.ground_truths.push_back(test::gt("f" + std::to_string(i), {10, 10, 50, 50}));
  return set;
}

EvalSet results_a() {
  EvalSet a = films();
  a.detections = {test::det("f0", {10, 10, 50, 50}, 0.9), test::det("f1", {11, 10, 50, 50}, 0.8),
                  test::det("f5", {0, 0, 20, 20}, 0.7)};
  return a;
}

EvalSet results_b() {
  EvalSet b = results_a();
  b.detections.push_back(test::det("f2", {10, 12, 50, 50}, 0.85));
  return b;
}

BootstrapOptions resamples(int64_t n) {
  BootstrapOptions options;
  options.resamples = n;
  options.seed = 3;
  return options;
}

TEST(PairedBootstrap, IdenticalResultsDifferByNothing) {
  const auto paired =
      paired_bootstrap(results_a(), results_a(), EvalOptions{}, {"ap50", "cpm"}, resamples(200));
  for (const auto& [name, m] : paired) {
    EXPECT_DOUBLE_EQ(m.a, m.b) << name;
    EXPECT_DOUBLE_EQ(m.difference.value, 0.0) << name;
    EXPECT_DOUBLE_EQ(m.difference.low, 0.0) << name;
    EXPECT_DOUBLE_EQ(m.difference.high, 0.0) << name;
    EXPECT_DOUBLE_EQ(m.b_better, 0.0) << name;
    EXPECT_EQ(m.difference.defined, 200) << name;
  }
}

// A third mass found: B is never worse on any resample, and better wherever f2's patient is drawn.
TEST(PairedBootstrap, AnExtraHitIsAPositiveDifference) {
  const EvalSet a = results_a(), b = results_b();
  const auto paired = paired_bootstrap(a, b, EvalOptions{}, {"ap50", "tpr"}, resamples(300));
  const auto& tpr = paired.at("tpr");
  EXPECT_DOUBLE_EQ(tpr.a, 0.5);
  EXPECT_DOUBLE_EQ(tpr.b, 0.75);
  EXPECT_DOUBLE_EQ(tpr.difference.value, 0.25);
  EXPECT_GE(tpr.difference.low, 0.0);
  EXPECT_GT(tpr.difference.high, 0.0);
  // f2's patient is missing from a resample of 4 draws among 4 with probability (3/4)^4 = 0.32.
  EXPECT_NEAR(tpr.b_better, 1 - 0.316, 0.08);
  EXPECT_GT(paired.at("ap50").difference.value, 0.0);
}

// One false positive fewer: B's FPPI is lower, and lower FPPI is the better one.
TEST(PairedBootstrap, FewerFalsePositivesAreBetter) {
  EvalSet a = results_a();
  a.detections.back().score = 0.95;  // the false positive on f5, above both hits
  EvalSet b = results_a();
  b.detections.pop_back();
  const auto paired = paired_bootstrap(a, b, EvalOptions{}, {"fppi"}, resamples(300));
  const auto& fppi = paired.at("fppi");
  EXPECT_DOUBLE_EQ(fppi.a, 1.0 / 8);
  EXPECT_DOUBLE_EQ(fppi.b, 0.0);
  EXPECT_LT(fppi.difference.value, 0.0);
  // B is better where f5's patient is drawn (1 - (3/4)^4 of the resamples of the 4 normals) and
  // a found mass is too (1 - (1/2)^4), so that A's threshold lets the false positive in.
  EXPECT_NEAR(fppi.b_better, (1 - 0.316) * (1 - 0.0625), 0.08);
}

TEST(PairedBootstrap, ResultsOfAnotherGroundTruthAreRefused) {
  EvalSet other = results_b();
  other.ground_truths.pop_back();
  EXPECT_THROW(paired_bootstrap(results_a(), other, EvalOptions{}, {"ap50"}, resamples(10)), Error);
  other = results_b();
  other.image_ids.pop_back();
  other.patient_ids.pop_back();
  EXPECT_THROW(paired_bootstrap(results_a(), other, EvalOptions{}, {"ap50"}, resamples(10)), Error);
  EXPECT_THROW(paired_bootstrap(results_a(), results_b(), EvalOptions{}, {"ap0"}, resamples(10)),
               Error);
}

TEST(PairedBootstrap, TableAndJsonNameBothSides) {
  const auto paired =
      paired_bootstrap(results_a(), results_b(), EvalOptions{}, {"tpr"}, resamples(20));
  const std::string table = format_paired(paired, {"tpr"}, "plain.json", "tta.json", resamples(20));
  EXPECT_NE(table.find("A: plain.json"), std::string::npos) << table;
  EXPECT_NE(table.find("+0.2500"), std::string::npos) << table;
  const auto j = paired_to_json(paired, resamples(20));
  EXPECT_DOUBLE_EQ(j["metrics"]["tpr"]["difference"].get<double>(), 0.25);
  EXPECT_EQ(j["resamples"], 20);
}

}  // namespace
}  // namespace mbmd::engine
