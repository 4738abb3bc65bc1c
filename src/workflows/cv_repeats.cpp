// `mbmd cv --repeats K` (docs/commands.md, "mbmd cv"): the paper's protocol repeated with K
// split seeds, data.split_seed + r, each repeat a whole cross-validation in DIR/repeat_r/.
#include "cv_repeats.h"

#include <filesystem>
#include <iostream>

#include "cv_plan.h"
#include "cv_pooled.h"
#include "mbmd/core/atomic_file.h"
#include "mbmd/core/error.h"
#include "mbmd/core/json_file.h"

namespace mbmd::engine {
namespace fs = std::filesystem;
namespace {

fs::path repeat_dir(const std::string& work_dir, int r) {
  return fs::path(work_dir) / ("repeat_" + std::to_string(r));
}

// The checks on DIR and on the options that only a repeated run has.
void check_repeats(const CvOptions& options, int repeats) {
  if (repeats < 1) throw Error("--repeats must be at least 1, got " + std::to_string(repeats));
  if (repeats > 1 && !options.split_file.empty())
    throw Error("--repeats " + std::to_string(repeats) +
                " makes each repeat's split with data.split_seed + r: leave out --split-file");
  if (options.work_dir.empty()) throw Error("cv needs a work dir");
  const fs::path dir(options.work_dir);
  if (fs::exists(dir) && !fs::is_directory(dir))
    throw Error("work dir " + options.work_dir + " is a file, not a folder");
  if (fs::exists(dir / "fold0"))
    throw Error("work dir " + options.work_dir +
                " holds a cross-validation without --repeats (fold0/): choose another --work-dir");
  if (!options.resume && (fs::exists(dir / "summary.json") || fs::exists(repeat_dir(dir, 0))))
    throw Error("work dir " + options.work_dir +
                " already holds a cross-validation run: continue it with --resume or choose "
                "another --work-dir");
}

Json repeat_config(const Json& config, int r) {
  Json c = config;
  c["data"]["split_seed"] = config_at(config, "data.split_seed").get<uint64_t>() + r;
  return c;
}

CvOptions repeat_options(const CvOptions& options, int r) {
  CvOptions o = options;
  o.work_dir = repeat_dir(options.work_dir, r).string();
  return o;
}

// A repeat that --resume keeps as it is: its summary lists every fold, and its pooled intervals
// and test-time variants (the last files a cross-validation writes) are there.
bool repeat_finished(const CvOptions& o) {
  const fs::path dir(o.work_dir);
  if (!fs::exists(dir / "summary.json") || !fs::exists(dir / "intervals.json") ||
      !fs::exists(dir / "variants.json"))
    return false;
  const Json summary = read_json_file((dir / "summary.json").string(), "cv summary");
  return summary.contains("folds") && summary["folds"].size() == static_cast<size_t>(o.folds);
}

// A finished repeat's result, read back from its files.
CvResult kept_repeat(const CvPlan& plan, const CvOptions& o) {
  const fs::path dir(o.work_dir);
  CvResult result;
  result.split_file = plan.run.split_file;
  result.summary_md = (dir / "summary.md").string();
  result.summary_csv = (dir / "summary.csv").string();
  result.summary_json = (dir / "summary.json").string();
  result.report = (dir / "report.html").string();
  std::vector<Json> test_metrics;
  const Json summary = read_json_file(result.summary_json, "cv summary");
  for (const auto& f : summary.at("folds")) {
    result.folds.push_back(fold_from_json(f));
    test_metrics.push_back(result.folds.back().test_metrics);
  }
  result.summary = summarize_folds(test_metrics, plan.run.metrics);
  result.pooled_bootstrap = read_pooled_bootstrap(o.work_dir);
  return result;
}

}  // namespace

RepeatedCvResult run_repeated_cv(const Json& config, const CvOptions& options, int repeats) {
  // Every repeat is checked before any training.
  check_repeats(options, repeats);
  RepeatedCvResult result;
  std::vector<CvOptions> repeat_opts;
  std::vector<CvPlan> plans;
  for (int r = 0; r < repeats; ++r) {
    repeat_opts.push_back(repeat_options(options, r));
    plans.push_back(plan_cv(repeat_config(config, r), repeat_opts.back()));
    result.split_seeds.push_back(
        config_at(plans.back().run.config, "data.split_seed").get<uint64_t>());
  }

  const fs::path dir(options.work_dir);
  fs::create_directories(dir);
  write_file_atomic((dir / "config.json").string(), config.dump(2) + "\n");
  result.summary_md = (dir / "summary.md").string();
  result.summary_csv = (dir / "summary.csv").string();
  result.summary_json = (dir / "summary.json").string();
  result.report = (dir / "report.html").string();
  const RepeatedCvRun run{plans.front().run, options.work_dir, repeats};
  for (int r = 0; r < repeats; ++r) {
    const bool kept = options.resume && repeat_finished(repeat_opts[r]);
    if (options.progress)
      std::cerr << "repeat " << r << " of " << repeats << " (data.split_seed "
                << result.split_seeds[r] << "): " << repeat_opts[r].work_dir
                << (kept ? ", done before, kept" : "") << "\n";
    result.repeats.push_back(kept ? kept_repeat(plans[r], repeat_opts[r])
                                  : execute_cv(plans[r], repeat_opts[r]));
    write_repeated_cv_summary(run, result);
  }
  return result;
}

}  // namespace mbmd::engine
