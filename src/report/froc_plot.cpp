// The FROC figures of report.html (docs/commands.md, "report.html"): curves from evaluations'
// JSON, and the shaded band of their patient-level bootstrap intervals (docs/design.md,
// "Metrics", "FROC band").
#include <algorithm>
#include <cmath>

#include "mbmd/eval/metric_names.h"
#include "mbmd/report/report.h"

namespace mbmd::engine {
namespace {

struct BandPoint {
  double fppi, sensitivity, low, high;
};

bool has_number(const Json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_number();
}

// The band's points in FPPI order: from "froc_band", or else from the "sens@F" intervals.
std::vector<BandPoint> band_points(const Json& bootstrap) {
  std::vector<BandPoint> out;
  if (!bootstrap.is_object()) return out;
  auto add = [&](double fppi, const Json& p, const char* value_key) {
    if (has_number(p, value_key) && has_number(p, "low") && has_number(p, "high"))
      out.push_back(
          {fppi, p[value_key].get<double>(), p["low"].get<double>(), p["high"].get<double>()});
  };
  if (bootstrap.contains("froc_band") && bootstrap["froc_band"].is_array()) {
    for (const auto& p : bootstrap["froc_band"])
      if (has_number(p, "fppi")) add(p["fppi"].get<double>(), p, "sensitivity");
  } else if (bootstrap.contains("metrics") && bootstrap["metrics"].is_object()) {
    for (const auto& [name, p] : bootstrap["metrics"].items())
      if (const double fppi = sens_metric_fppi(name); fppi > 0) add(fppi, p, "value");
  }
  std::sort(out.begin(), out.end(),
            [](const BandPoint& a, const BandPoint& b) { return a.fppi < b.fppi; });
  return out;
}

void set_band(PlotSeries& series, const Json& bootstrap, const std::vector<BandPoint>& points) {
  for (const BandPoint& p : points) series.band.push_back({p.fppi, p.low, p.high});
  if (!series.band.empty()) series.band_label = bootstrap_band_label(bootstrap);
}

}  // namespace

std::string bootstrap_band_label(const Json& bootstrap) {
  const double level = has_number(bootstrap, "level") ? bootstrap["level"].get<double>() : 0.95;
  const std::string resamples =
      has_number(bootstrap, "resamples") ? bootstrap["resamples"].dump() : "?";
  return std::to_string(std::lround(level * 100)) + "% CI, patient-level bootstrap (" + resamples +
         " resamples)";
}

PlotSeries froc_series(const std::string& name, const Json& metrics) {
  PlotSeries s{name, {}, {}, {}};
  if (metrics.contains("froc") && metrics["froc"].is_array())
    for (const auto& p : metrics["froc"])
      if (p.is_array() && p.size() == 2 && p[0].is_number() && p[1].is_number())
        s.points.push_back({p[0].get<double>(), p[1].get<double>()});
  if (metrics.contains("bootstrap"))
    set_band(s, metrics["bootstrap"], band_points(metrics["bootstrap"]));
  return s;
}

PlotSeries froc_band_series(const std::string& name, const Json& bootstrap) {
  PlotSeries s{name, {}, {}, {}};
  const std::vector<BandPoint> points = band_points(bootstrap);
  for (const BandPoint& p : points) s.points.push_back({p.fppi, p.sensitivity});
  set_band(s, bootstrap, points);
  return s;
}

std::string froc_plot(const std::vector<PlotSeries>& curves, const std::string& title) {
  PlotOptions options;
  options.title = title;
  options.x_label = "false positives per image";
  options.y_label = "sensitivity";
  options.log_x = true;
  return svg_line_plot(curves, options);
}

std::string froc_caption(const std::string& caption, const std::vector<PlotSeries>& curves) {
  for (const auto& c : curves)
    if (c.band.size() >= 2) return caption + " Shaded: " + c.band_label + ".";
  return caption;
}

}  // namespace mbmd::engine
