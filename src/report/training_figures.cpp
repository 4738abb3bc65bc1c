// The training curves of report.html (docs/commands.md, "report.html"): each loss part, the
// learning rate and the validation metric, read from a run's log.jsonl.
#include <algorithm>
#include <fstream>
#include <set>

#include "mbmd/report/report.h"

namespace mbmd::engine {
namespace {

PlotOptions plot_options(const std::string& title, const std::string& x_label,
                         const std::string& y_label) {
  PlotOptions options;
  options.title = title;
  options.x_label = x_label;
  options.y_label = y_label;
  return options;
}

}  // namespace

TrainLog read_train_log(const std::string& path) {
  TrainLog log;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    Json entry = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (entry.is_discarded() || !entry.is_object()) continue;
    const std::string type = entry.value("type", "");
    if (type == "train")
      log.steps.push_back(std::move(entry));
    else if (type == "val")
      log.validations.push_back(std::move(entry));
  }
  return log;
}

std::vector<std::pair<std::string, std::string>> training_figures(const TrainLog& log) {
  std::vector<std::pair<std::string, std::string>> figures;
  if (log.steps.empty()) return figures;
  static const std::set<std::string> not_losses = {"type", "epoch",   "iter",     "lr",
                                                   "time", "elapsed", "grad_norm"};
  std::vector<std::string> names;
  for (const auto& step : log.steps)
    for (const auto& [key, value] : step.items())
      if (!not_losses.count(key) && value.is_number() &&
          std::find(names.begin(), names.end(), key) == names.end())
        names.push_back(key);
  // The total first, then the parts.
  std::stable_partition(names.begin(), names.end(),
                        [](const std::string& n) { return n == "loss"; });
  std::vector<PlotSeries> losses;
  for (const auto& name : names) {
    PlotSeries s{name, {}, {}, {}};
    for (const auto& step : log.steps)
      if (step.contains(name) && step[name].is_number())
        s.points.push_back({step.value("iter", 0.0), step[name].get<double>()});
    losses.push_back(std::move(s));
  }
  PlotOptions lo = plot_options("Training losses", "iteration", "loss");
  figures.push_back({"Losses (means over each logging interval) against the iteration.",
                     svg_line_plot(losses, lo)});
  PlotSeries lr{"lr", {}, {}, {}};
  for (const auto& step : log.steps)
    if (step.contains("lr") && step["lr"].is_number())
      lr.points.push_back({step.value("iter", 0.0), step["lr"].get<double>()});
  PlotOptions lro = plot_options("Learning rate", "iteration", "lr");
  figures.push_back({"Learning rate (warm-up, then the schedule).", svg_line_plot({lr}, lro)});
  if (!log.validations.empty()) {
    PlotSeries v{log.validations.back().value("metric", "value"), {}, {}, {}};
    for (const auto& e : log.validations)
      if (e.contains("value") && e["value"].is_number())
        v.points.push_back({e.value("epoch", 0.0), e["value"].get<double>()});
    PlotOptions vo = plot_options("Validation", "epoch", v.name);
    figures.push_back(
        {"The validation metric that picks the best checkpoint.", svg_line_plot({v}, vo)});
  }
  return figures;
}

}  // namespace mbmd::engine
