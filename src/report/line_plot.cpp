// Line plots as SVG for report.html: axes, ticks, confidence bands and a legend.
#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <sstream>

#include "mbmd/core/strings.h"
#include "mbmd/report/report.h"

namespace mbmd::engine {
namespace {

const char* colour_of(size_t series_index) {
  static const char* const kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                         "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  return kColours[series_index % (sizeof kColours / sizeof kColours[0])];
}

// "Nice" tick values (1, 2, 5 x 10^k) covering [lo, hi], about `count` of them.
std::vector<double> linear_ticks(double lo, double hi, int count) {
  std::vector<double> ticks;
  const double span = hi - lo;
  if (!(span > 0)) return {lo};
  const double raw = span / count;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

// Data to plot units (base 2 log x, base 10 log y) and the points a plot can show.
struct AxisMap {
  bool log_x = false, log_y = false;
  double tx(double x) const { return log_x ? std::log2(x) : x; }
  double ty(double y) const { return log_y ? std::log10(y) : y; }
  bool usable(double x, double y) const {
    return std::isfinite(x) && std::isfinite(y) && (!log_x || x > 0) && (!log_y || y > 0);
  }
};

// x0, x1, y0, y1 of the usable points and band edges, in plot units (+-infinity: none).
std::array<double, 4> data_range(const std::vector<PlotSeries>& series, const AxisMap& axes) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  auto take = [&](double x, double y) {
    if (!axes.usable(x, y)) return;
    x0 = std::min(x0, axes.tx(x));
    x1 = std::max(x1, axes.tx(x));
    y0 = std::min(y0, axes.ty(y));
    y1 = std::max(y1, axes.ty(y));
  };
  for (const auto& s : series) {
    for (const auto& [x, y] : s.points) take(x, y);
    for (const auto& [x, low, high] : s.band) {
      take(x, low);
      take(x, high);
    }
  }
  return {x0, x1, y0, y1};
}

using PixelPath = std::vector<std::pair<double, double>>;

// A plot area in pixels.
struct PixelRect {
  double x = 0, y = 0, width = 0, height = 0;
  bool contains(double px, double py) const {
    return px >= x && px <= x + width && py >= y && py <= y + height;
  }
};

// The series' band as a closed outline in pixels: the upper edge left to right, then the lower
// edge back; points either edge cannot show are left out. Empty without a band.
PixelPath band_outline(const PlotSeries& series, const AxisMap& axes,
                       const std::function<double(double)>& px,
                       const std::function<double(double)>& py) {
  std::vector<std::array<double, 3>> band;
  for (const auto& b : series.band)
    if (axes.usable(b[0], b[1]) && axes.usable(b[0], b[2])) band.push_back(b);
  if (band.size() < 2) return {};
  std::sort(band.begin(), band.end());
  PixelPath outline;
  for (const auto& [x, low, high] : band) outline.emplace_back(px(x), py(high));
  for (auto b = band.rbegin(); b != band.rend(); ++b)
    outline.emplace_back(px((*b)[0]), py((*b)[1]));
  return outline;
}

// The band's outline as one shaded polygon in the series' colour.
std::string band_polygon(const PlotSeries& series, const PixelPath& outline, const char* colour) {
  if (outline.empty()) return "";
  std::ostringstream svg;
  svg << "<polygon class=\"band\" fill=\"" << colour
      << "\" fill-opacity=\"0.18\" stroke=\"none\" points=\"";
  for (size_t i = 0; i < outline.size(); ++i)
    svg << (i ? " " : "") << outline[i].first << "," << outline[i].second;
  svg << "\"><title>" << html_escape(series.name + ": " + series.band_label)
      << "</title></polygon>";
  return svg.str();
}

// How much of the drawn paths lies under `box`: their points, and their segments sampled every
// 2 px, so that a long flat stretch counts as much as a wiggle.
int64_t covered_samples(const std::vector<PixelPath>& paths, const PixelRect& box) {
  int64_t covered = 0;
  for (const auto& path : paths) {
    if (path.size() == 1 && box.contains(path[0].first, path[0].second)) ++covered;
    for (size_t i = 1; i < path.size(); ++i) {
      const auto [x0, y0] = path[i - 1];
      const auto [x1, y1] = path[i];
      const auto steps = static_cast<int64_t>(std::ceil(std::hypot(x1 - x0, y1 - y0) / 2.0));
      for (int64_t k = 0; k <= steps; ++k) {
        const double t = steps == 0 ? 0.0 : static_cast<double>(k) / static_cast<double>(steps);
        if (box.contains(x0 + t * (x1 - x0), y0 + t * (y1 - y0))) ++covered;
      }
    }
  }
  return covered;
}

// The legend's place: the corner of the plot area where its box hides the least of the lines and
// bands, the top right one on a tie. A validation curve that ends at its best epoch, or a FROC
// that nears 1 at many false positives, then stays in sight.
PixelRect legend_place(const std::vector<PixelPath>& paths, const PixelRect& plot, double width,
                       double height) {
  constexpr double kInset = 2;
  const double left = plot.x + kInset, right = plot.x + plot.width - kInset - width;
  const double top = plot.y + kInset, bottom = plot.y + plot.height - kInset - height;
  const std::array<PixelRect, 4> corners = {
      PixelRect{right, top, width, height}, PixelRect{right, bottom, width, height},
      PixelRect{left, top, width, height}, PixelRect{left, bottom, width, height}};
  PixelRect best = corners[0];
  int64_t least = covered_samples(paths, best);
  for (size_t i = 1; i < corners.size() && least > 0; ++i) {
    const int64_t covered = covered_samples(paths, corners[i]);
    if (covered < least) {
      least = covered;
      best = corners[i];
    }
  }
  return best;
}

// A band needs two points to shade anything; the legend gives a line to the first series with one.
bool has_band(const PlotSeries& series) { return series.band.size() >= 2; }

// A legend line under the series' names when a series has a band: a shaded square and the
// band's label up to its first comma ("95% CI"); the figure's caption says the rest.
std::string band_legend(const std::vector<PlotSeries>& series, double x, double y) {
  for (const auto& s : series) {
    if (!has_band(s)) continue;
    std::ostringstream svg;
    svg << "<rect x=\"" << x << "\" y=\"" << y - 9 << "\" width=\"16\" height=\"8\" "
        << "fill=\"#888\" fill-opacity=\"0.35\"/><text x=\"" << x + 20 << "\" y=\"" << y << "\">"
        << html_escape(s.band_label.substr(0, s.band_label.find(','))) << "</text>";
    return svg.str();
  }
  return "";
}

constexpr double kLegendWidth = 112;

double legend_height(const std::vector<PlotSeries>& series) {
  const bool band = std::any_of(series.begin(), series.end(), has_band);
  return 13 * static_cast<double>(series.size() + (band ? 1 : 0)) + 4;
}

// The legend on a light box in `box`, drawn after every line so that a line running through it
// never hides a name.
std::string series_legend(const std::vector<PlotSeries>& series, const PixelRect& box) {
  const double x = box.x + 4, top = box.y - 2;
  std::ostringstream svg;
  svg << "<rect class=\"legend-box\" x=\"" << box.x << "\" y=\"" << box.y << "\" width=\""
      << box.width << "\" height=\"" << box.height
      << "\" fill=\"#fff\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>";
  for (size_t i = 0; i < series.size(); ++i) {
    const double y = top + 12 + 13 * static_cast<double>(i);
    svg << "<line x1=\"" << x << "\" y1=\"" << y - 4 << "\" x2=\"" << x + 16 << "\" y2=\"" << y - 4
        << "\" stroke=\"" << colour_of(i) << "\" stroke-width=\"2\"/><text x=\"" << x + 20
        << "\" y=\"" << y << "\">" << html_escape(series[i].name) << "</text>";
  }
  return svg.str() + band_legend(series, x, top + 12 + 13 * static_cast<double>(series.size()));
}

}  // namespace

std::string svg_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& o) {
  const double left = 58, right = 12, top = 26, bottom = 42;
  const double pw = o.width - left - right, ph = o.height - top - bottom;
  const AxisMap axes{o.log_x, o.log_y};
  auto tx = [&](double x) { return axes.tx(x); };
  auto ty = [&](double y) { return axes.ty(y); };
  auto usable = [&](const std::pair<double, double>& p) { return axes.usable(p.first, p.second); };
  const std::array<double, 4> range = data_range(series, axes);
  double x0 = range[0], x1 = range[1], y0 = range[2], y1 = range[3];
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << o.width << "\" height=\""
      << o.height << "\" viewBox=\"0 0 " << o.width << " " << o.height
      << "\" font-family=\"sans-serif\" font-size=\"11\">";
  svg << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>";
  svg << "<text x=\"" << o.width / 2 << "\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">"
      << html_escape(o.title) << "</text>";
  if (!std::isfinite(x0)) {
    svg << "<text x=\"" << o.width / 2 << "\" y=\"" << o.height / 2
        << "\" text-anchor=\"middle\" fill=\"#888\">no data</text></svg>";
    return svg.str();
  }
  if (x1 - x0 < 1e-12) {
    x0 -= 0.5;
    x1 += 0.5;
  }
  if (y1 - y0 < 1e-12) {
    const double pad = std::max(std::abs(y0) * 0.1, 1e-3);
    y0 -= pad;
    y1 += pad;
  } else if (!o.log_y) {
    const double pad = 0.04 * (y1 - y0);
    y0 -= pad;
    y1 += pad;
  }
  auto px = [&](double x) { return left + (tx(x) - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return top + ph - (ty(y) - y0) / (y1 - y0) * ph; };
  auto px_t = [&](double t) { return left + (t - x0) / (x1 - x0) * pw; };
  auto py_t = [&](double t) { return top + ph - (t - y0) / (y1 - y0) * ph; };

  // Ticks in transformed units, labelled in data units.
  std::vector<double> xt, yt;
  if (o.log_x)
    for (double t = std::ceil(x0); t <= x1 + 1e-9; t += 1) xt.push_back(t);
  else
    xt = linear_ticks(x0, x1, 5);
  if (o.log_y)
    for (double t = std::ceil(y0); t <= y1 + 1e-9; t += 1) yt.push_back(t);
  else
    yt = linear_ticks(y0, y1, 5);
  svg << "<g stroke=\"#e6e6e6\">";
  for (double t : xt)
    svg << "<line x1=\"" << px_t(t) << "\" y1=\"" << top << "\" x2=\"" << px_t(t) << "\" y2=\""
        << top + ph << "\"/>";
  for (double t : yt)
    svg << "<line x1=\"" << left << "\" y1=\"" << py_t(t) << "\" x2=\"" << left + pw << "\" y2=\""
        << py_t(t) << "\"/>";
  svg << "</g>";
  svg << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << pw << "\" height=\"" << ph
      << "\" fill=\"none\" stroke=\"#444\"/>";
  for (double t : xt)
    svg << "<text x=\"" << px_t(t) << "\" y=\"" << top + ph + 14 << "\" text-anchor=\"middle\">"
        << significant_text(o.log_x ? std::exp2(t) : t, 3) << "</text>";
  for (double t : yt)
    svg << "<text x=\"" << left - 4 << "\" y=\"" << py_t(t) + 4 << "\" text-anchor=\"end\">"
        << significant_text(o.log_y ? std::pow(10.0, t) : t, 3) << "</text>";
  svg << "<text x=\"" << left + pw / 2 << "\" y=\"" << o.height - 6 << "\" text-anchor=\"middle\">"
      << html_escape(o.x_label) << "</text>";
  svg << "<text transform=\"translate(13," << top + ph / 2
      << ") rotate(-90)\" text-anchor=\"middle\">" << html_escape(o.y_label) << "</text>";

  // Bands first, so that every line stays on top of them.
  std::vector<PixelPath> drawn;
  for (size_t i = 0; i < series.size(); ++i) {
    drawn.push_back(band_outline(series[i], axes, px, py));
    svg << band_polygon(series[i], drawn.back(), colour_of(i));
  }
  for (size_t i = 0; i < series.size(); ++i) {
    const char* colour = colour_of(i);
    PixelPath line;
    for (const auto& p : series[i].points)
      if (usable(p)) line.emplace_back(px(p.first), py(p.second));
    if (line.size() == 1)
      svg << "<circle cx=\"" << line[0].first << "\" cy=\"" << line[0].second
          << "\" r=\"3\" fill=\"" << colour << "\"/>";
    else if (line.size() > 1) {
      svg << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"1.5\" points=\"";
      for (size_t k = 0; k < line.size(); ++k)
        svg << (k ? " " : "") << line[k].first << "," << line[k].second;
      svg << "\"/>";
    }
    drawn.push_back(std::move(line));
  }
  const PixelRect plot{left, top, pw, ph};
  svg << series_legend(series, legend_place(drawn, plot, kLegendWidth, legend_height(series)));
  svg << "</svg>";
  return svg.str();
}

}  // namespace mbmd::engine
