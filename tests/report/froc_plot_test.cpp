// The FROC figures: curves from evaluations' JSON, and the shaded band of their bootstrap
// intervals, there when the metrics carry intervals and absent otherwise, with its upper edge on
// or above the curve and its lower edge on or below it at every point.
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "mbmd/report/report.h"
#include "svg_text.h"

namespace mbmd::engine {
namespace {

using testing::count_of;

// The "x,y x,y ..." of the first element of `tag` in `svg`.
std::vector<std::pair<double, double>> points_of(const std::string& svg, const std::string& tag) {
  const size_t element = svg.find("<" + tag);
  if (element == std::string::npos) return {};
  const size_t begin = svg.find("points=\"", element) + 8;
  std::istringstream in(svg.substr(begin, svg.find('"', begin) - begin));
  std::vector<std::pair<double, double>> out;
  double x = 0, y = 0;
  char comma = 0;
  while (in >> x >> comma >> y) out.push_back({x, y});
  return out;
}

// A bootstrap object as `mbmd eval --bootstrap 200 --json` writes it, with a band at five FPPI.
Json bootstrap_with_band() {
  Json band = Json::array();
  const std::vector<std::array<double, 4>> rows = {{0.125, 0.2, 0.05, 0.4},
                                                   {0.25, 0.3, 0.1, 0.5},
                                                   {0.5, 0.5, 0.3, 0.7},
                                                   {1.0, 0.6, 0.35, 0.85},
                                                   {2.0, 0.8, 0.6, 1.0}};
  for (const auto& [fppi, s, low, high] : rows)
    band.push_back({{"fppi", fppi}, {"sensitivity", s}, {"low", low}, {"high", high}});
  return {{"resamples", 200},
          {"seed", 0},
          {"level", 0.95},
          {"metrics", Json::object()},
          {"froc_band", band}};
}

Json metrics_with_curve() {
  return {{"froc", {{0.125, 0.2}, {0.25, 0.3}, {0.5, 0.5}, {1.0, 0.6}, {2.0, 0.8}}}};
}

TEST(FrocPlot, BandOnlyWhenTheMetricsCarryIntervals) {
  const Json plain = metrics_with_curve();
  const PlotSeries without = froc_series("test", plain);
  EXPECT_EQ(without.points.size(), 5u);
  EXPECT_TRUE(without.band.empty());
  const std::string plain_svg = froc_plot({without});
  EXPECT_EQ(count_of(plain_svg, "<polygon"), 0u);
  EXPECT_EQ(count_of(plain_svg, "95% CI"), 0u);
  EXPECT_EQ(froc_caption("FROC.", {without}), "FROC.");

  Json with = plain;
  with["bootstrap"] = bootstrap_with_band();
  const PlotSeries banded = froc_series("test", with);
  ASSERT_EQ(banded.band.size(), 5u);
  EXPECT_EQ(banded.band_label, "95% CI, patient-level bootstrap (200 resamples)");
  const std::string svg = froc_plot({banded, without});
  EXPECT_EQ(count_of(svg, "<polygon"), 1u);
  EXPECT_EQ(count_of(svg, "<polyline"), 2u);
  EXPECT_LT(svg.find("<polygon"), svg.find("<polyline"));    // under the lines
  EXPECT_NE(svg.find(">95% CI</text>"), std::string::npos);  // the legend
  EXPECT_EQ(froc_caption("FROC.", {without, banded}),
            "FROC. Shaded: 95% CI, patient-level bootstrap (200 resamples).");
  // Valid XML in the small: every element that opens closes.
  EXPECT_EQ(count_of(svg, "<svg"), count_of(svg, "</svg>"));
  EXPECT_EQ(count_of(svg, "<polygon"), count_of(svg, "</polygon>"));
}

TEST(FrocPlot, BandEdgesBracketTheCurveAtEveryPoint) {
  Json metrics = metrics_with_curve();
  metrics["bootstrap"] = bootstrap_with_band();
  for (const PlotSeries& series :
       {froc_series("test", metrics), froc_band_series("pooled", bootstrap_with_band())}) {
    const std::string svg = froc_plot({series});
    const auto curve = points_of(svg, "polyline");
    const auto polygon = points_of(svg, "polygon");
    ASSERT_EQ(curve.size(), 5u);
    ASSERT_EQ(polygon.size(), 10u);       // the upper edge left to right, the lower edge back
    std::map<long, double> upper, lower;  // pixel x (rounded to 1e-3) -> pixel y
    for (size_t k = 0; k < 5; ++k) {
      upper[std::lround(polygon[k].first * 1000)] = polygon[k].second;
      lower[std::lround(polygon[9 - k].first * 1000)] = polygon[9 - k].second;
    }
    for (const auto& [x, y] : curve) {
      const long key = std::lround(x * 1000);
      ASSERT_TRUE(upper.count(key) && lower.count(key)) << x;
      // SVG y grows downwards: the upper edge is drawn at a smaller y.
      EXPECT_LE(upper[key], y) << series.name << " x " << x;
      EXPECT_GE(lower[key], y) << series.name << " x " << x;
      EXPECT_LT(upper[key], lower[key]) << series.name << " x " << x;
    }
  }
}

TEST(FrocPlot, BandThroughTheSensitivityIntervalsWhenThereIsNoGrid) {
  // An intervals.json of a run made before the band: only sens@F intervals, one undefined.
  const Json bootstrap = {
      {"resamples", 1000},
      {"level", 0.95},
      {"metrics",
       {{"ap50", {{"value", 0.4}, {"low", 0.2}, {"high", 0.6}}},
        {"sens@0.125", {{"value", 0.1}, {"low", 0.0}, {"high", 0.3}}},
        {"sens@1", {{"value", 0.5}, {"low", 0.3}, {"high", 0.7}}},
        {"sens@0.5", {{"value", 0.4}, {"low", 0.2}, {"high", 0.6}}},
        {"sens@8", {{"value", nullptr}, {"low", nullptr}, {"high", nullptr}}}}}};
  const PlotSeries s = froc_band_series("pooled", bootstrap);
  ASSERT_EQ(s.points.size(), 3u);
  EXPECT_EQ(s.points[0], (std::pair<double, double>{0.125, 0.1}));
  EXPECT_EQ(s.points[1], (std::pair<double, double>{0.5, 0.4}));
  EXPECT_EQ(s.points[2], (std::pair<double, double>{1.0, 0.5}));
  ASSERT_EQ(s.band.size(), 3u);
  EXPECT_EQ(s.band[2], (std::array<double, 3>{1.0, 0.3, 0.7}));
  EXPECT_EQ(s.band_label, "95% CI, patient-level bootstrap (1000 resamples)");
  EXPECT_TRUE(froc_band_series("none", Json::object()).band.empty());
}

TEST(FrocPlot, CheckpointEvaluationCaptionNamesTheBand) {
  Report report;
  Json test = metrics_with_curve();
  test["bootstrap"] = bootstrap_with_band();
  add_checkpoint_evaluation(report, "Test", "FROC of the test part.", Json(), test);
  ASSERT_EQ(report.figures.size(), 1u);
  EXPECT_EQ(report.figures[0].first,
            "FROC of the test part. Shaded: 95% CI, patient-level bootstrap (200 resamples).");
  EXPECT_NE(report.figures[0].second.find("<polygon"), std::string::npos);
  const std::string html = render_html(report);
  EXPECT_NE(html.find("patient-level bootstrap (200 resamples)"), std::string::npos);
}

}  // namespace
}  // namespace mbmd::engine
