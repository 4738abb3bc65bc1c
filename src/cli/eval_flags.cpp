#include "eval_flags.h"

#include <sstream>

#include "mbmd/core/error.h"

namespace mbmd::cli {

std::vector<double> parse_thresholds(const std::string& text) {
  std::vector<double> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      size_t used = 0;
      const double value = std::stod(item, &used);
      if (used == item.size() && value >= 0.0 && value <= 1.0) {
        values.push_back(value);
        continue;
      }
    } catch (const std::exception&) {
    }
    throw Error("option --iou-thrs: expected IoU thresholds in [0, 1] separated by commas, got '" +
                text + "'");
  }
  if (values.empty()) throw Error("option --iou-thrs: no threshold given");
  return values;
}

// The flags that were given, as keys of the config's `eval` section.
Json eval_flags(const ArgParser& parser) {
  Json eval = Json::object();
  if (parser.has("iou-thrs")) eval["iou_thrs"] = parse_thresholds(parser.get("iou-thrs"));
  if (parser.has("hit")) eval["hit"] = parser.get("hit");
  if (parser.has("iou")) eval["hit_iou"] = parser.get_double("iou");
  if (parser.has("score-thr")) eval["score_thr"] = parser.get_double("score-thr");
  if (parser.has("fppi-cap")) eval["fppi_cap"] = parser.get_double("fppi-cap");
  if (parser.has("threshold-rule")) eval["threshold_rule"] = parser.get("threshold-rule");
  if (parser.has("exclude-normals")) eval["count_normals"] = false;
  return eval;
}

}  // namespace mbmd::cli
