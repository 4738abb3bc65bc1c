// svg_line_plot: every series drawn, points the axes cannot show left out, ticks, and the legend
// drawn last in the corner where it hides the least of the lines.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "mbmd/report/report.h"
#include "svg_text.h"

namespace mbmd::engine {
namespace {

using testing::attribute_of;
using testing::count_of;

// The plot area of svg_line_plot at PlotOptions' default size.
struct Area {
  double left, top, right, bottom;
};
Area plot_area(const std::string& svg) {
  const std::string frame = "fill=\"none\" stroke=\"#444\"";
  const double x = attribute_of(svg, frame, "x");
  const double y = attribute_of(svg, frame, "y");
  const double w = attribute_of(svg, frame, "width");
  const double h = attribute_of(svg, frame, "height");
  return {x, y, x + w, y + h};
}

// Which corner of the plot area the legend's box is in: "top right", "bottom left", ...
std::string legend_corner(const std::string& svg) {
  const Area a = plot_area(svg);
  const double x = attribute_of(svg, "class=\"legend-box\"", "x");
  const double y = attribute_of(svg, "class=\"legend-box\"", "y");
  const double w = attribute_of(svg, "class=\"legend-box\"", "width");
  const double h = attribute_of(svg, "class=\"legend-box\"", "height");
  EXPECT_GE(x, a.left);
  EXPECT_LE(x + w, a.right);
  EXPECT_GE(y, a.top);
  EXPECT_LE(y + h, a.bottom);
  const std::string vertical = y - a.top < a.bottom - (y + h) ? "top" : "bottom";
  const std::string horizontal = x - a.left < a.right - (x + w) ? "left" : "right";
  return vertical + " " + horizontal;
}

PlotSeries line(std::vector<std::pair<double, double>> points) {
  return PlotSeries{"ap20", std::move(points), {}, {}};
}

TEST(LinePlot, DrawsEverySeriesAndSkipsWhatTheAxesCannotShow) {
  PlotSeries a{"a", {{0.125, 0.1}, {0.5, 0.4}, {2.0, 0.8}}, {}, {}};
  PlotSeries b{"b<x>", {{0.0, 0.2}, {1.0, 0.3}}, {}, {}};  // x = 0 is left out on a log axis
  PlotOptions o;
  o.title = "FROC";
  o.log_x = true;
  const std::string svg = svg_line_plot({a, b}, o);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_EQ(count_of(svg, "<polyline"), 1u);  // a; b keeps one point, drawn as a dot
  EXPECT_EQ(count_of(svg, "<circle"), 1u);
  EXPECT_NE(svg.find("b&lt;x&gt;"), std::string::npos);
  // The legend is drawn last, on its box, so that no line crosses a name.
  const size_t box = svg.find("class=\"legend-box\"");
  ASSERT_NE(box, std::string::npos);
  EXPECT_GT(box, svg.rfind("<polyline"));
  EXPECT_GT(box, svg.rfind("<circle"));
  EXPECT_GT(svg.find(">a</text>"), box);
  // Ticks at powers of two from 1/8 to 2.
  for (const char* tick : {">0.125<", ">0.25<", ">0.5<", ">1<", ">2<"})
    EXPECT_NE(svg.find(tick), std::string::npos) << tick;
  EXPECT_NE(svg_line_plot({}, o).find("no data"), std::string::npos);
}

TEST(LinePlot, LegendStaysTopRightWhereNoLineRuns) {
  // A falling loss: the top right corner is empty.
  const std::string svg = svg_line_plot({line({{0, 1.0}, {5, 0.3}, {10, 0.2}})}, PlotOptions{});
  EXPECT_EQ(legend_corner(svg), "top right");
}

TEST(LinePlot, LegendMovesOffTheEndOfARisingCurve) {
  // A validation curve that ends at its best epoch: the top right corner holds its end, the
  // bottom right one is empty.
  const std::string svg = svg_line_plot(
      {line({{1, 0.0}, {3, 0.0}, {5, 0.1}, {7, 0.2}, {9, 0.25}, {11, 0.3}})}, PlotOptions{});
  EXPECT_EQ(legend_corner(svg), "bottom right");
}

TEST(LinePlot, LegendGoesWhereItHidesTheLeast) {
  // Along the bottom, then back up into the top right corner: only the top left corner is free.
  const std::string svg = svg_line_plot({line({{0, 0.0}, {10, 0.0}, {9, 1.0}})}, PlotOptions{});
  EXPECT_EQ(legend_corner(svg), "top left");
}

TEST(LinePlot, LegendAvoidsABand) {
  // A flat line low down with a band that fills the bottom right corner up to the top: the band
  // counts as drawn, so the legend takes the top left corner, the first free one.
  PlotSeries s = line({{1, 0.1}, {2, 0.1}, {3, 0.1}, {4, 0.1}});
  s.band = {{1, 0.09, 0.11}, {2, 0.09, 0.11}, {3, 0.0, 1.0}, {4, 0.0, 1.0}};
  s.band_label = "95% CI, bootstrap";
  const std::string svg = svg_line_plot({s}, PlotOptions{});
  EXPECT_EQ(legend_corner(svg), "top left");
}

}  // namespace
}  // namespace mbmd::engine
