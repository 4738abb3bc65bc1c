// The bootstrap intervals of a set's metrics as a report table.
#include <algorithm>
#include <cmath>

#include "mbmd/core/strings.h"
#include "mbmd/eval/bootstrap.h"
#include "mbmd/eval/metric_names.h"
#include "mbmd/report/report.h"

namespace mbmd::engine {
namespace {

// The metrics of `bootstrap` in the order `mbmd eval --bootstrap` prints them, then any others.
std::vector<std::string> ordered_metric_names(const Json& metrics) {
  std::vector<std::string> names;
  for (const auto& name : default_bootstrap_metrics())
    if (metrics.contains(name)) names.push_back(name);
  for (const auto& [name, value] : metrics.items())
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  return names;
}

}  // namespace

ReportTable intervals_table(const std::string& title, const Json& bootstrap) {
  ReportTable table;
  table.title = title;
  const double level = bootstrap.value("level", 0.95);
  table.header = {"metric", "value", std::to_string(std::lround(level * 100)) + "% CI"};
  const Json metrics = bootstrap.value("metrics", Json::object());
  for (const auto& name : ordered_metric_names(metrics)) {
    const Json& m = metrics[name];
    const bool has_value = m.contains("value") && m["value"].is_number();
    const bool has_interval =
        m.contains("low") && m["low"].is_number() && m.contains("high") && m["high"].is_number();
    table.rows.push_back({metric_display_name(name),
                          has_value ? fixed_text(m["value"].get<double>()) : "n/a",
                          has_interval ? "[" + fixed_text(m["low"].get<double>()) + ", " +
                                             fixed_text(m["high"].get<double>()) + "]"
                                       : "n/a"});
  }
  return table;
}

}  // namespace mbmd::engine
