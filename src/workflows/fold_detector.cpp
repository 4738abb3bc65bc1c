#include "fold_detector.h"

#include <filesystem>

#include "mbmd/core/error.h"
#include "mbmd/eval/evaluate.h"
#include "mbmd/inference/merge.h"

namespace mbmd::engine {
namespace fs = std::filesystem;

namespace {

// The names eval.variant takes, each with what it merges.
struct NamedVariant {
  const char* name;
  FoldVariant variant;
};
constexpr NamedVariant kVariants[] = {{"single", {false, false}},
                                      {"flip", {true, false}},
                                      {"snapshot", {false, true}},
                                      {"flip+snapshot", {true, true}}};

std::string variant_name(FoldVariant variant) {
  for (const auto& named : kVariants)
    if (named.variant.flip == variant.flip && named.variant.snapshot == variant.snapshot)
      return named.name;
  return "single";
}

}  // namespace

FoldVariant parse_fold_variant(const Json& config) {
  const Json section = config.value("eval", Json::object());
  const Json value = section.value("variant", Json("single"));
  const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
  for (const auto& named : kVariants)
    if (text == named.name) return named.variant;
  throw Error(
      "config key eval.variant must be \"single\", \"flip\", \"snapshot\" or "
      "\"flip+snapshot\", got " +
      value.dump());
}

void check_eval_section(const Json& config) {
  parse_fold_variant(config);
  eval_options_from_config(config_at(config, "eval"));
}

std::string evaluated_as_text(const Json& config) {
  const FoldVariant variant = parse_fold_variant(config);
  const EvalOptions options = eval_options_from_config(config_at(config, "eval"));
  const std::string threshold =
      options.score_thr
          ? "threshold given: eval.score_thr " + threshold_text(*options.score_thr)
          : "threshold on each fold's validation part: " + threshold_choice_text(options);
  return "eval.variant " + variant_name(variant) + "; " + threshold;
}

FoldDetector::FoldDetector(const Json& config, const std::string& checkpoint,
                           const std::string& last)
    : config_(config), variant_(parse_fold_variant(config)) {
  models_.push_back(load_detector(checkpoint, config));
  description_ = fs::path(checkpoint).filename().string();
  const bool other_last =
      !last.empty() && fs::exists(last) && !fs::equivalent(fs::path(last), fs::path(checkpoint));
  if (variant_.snapshot && other_last) {
    models_.push_back(load_detector(last, config));
    description_ += " + " + fs::path(last).filename().string();
  }
  if (variant_.flip) description_ += ", flip TTA";
}

std::vector<model::Detections> FoldDetector::detect(const std::vector<data::Sample>& samples) {
  std::vector<std::vector<model::Detections>> runs;
  for (auto& m : models_) {
    runs.push_back(detect_samples(*m.model, config_, samples));
    if (variant_.flip) runs.push_back(detect_samples(*m.model, config_, samples, true));
  }
  return runs.size() == 1 ? runs.front() : merge_runs_per_image(runs, {});
}

}  // namespace mbmd::engine
