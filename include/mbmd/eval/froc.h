// Lesion-level detection rates: TPR and FPPI at a score threshold, the FROC curve and the CPM
// (docs/design.md, "Metrics"; the LUNA16 conventions).
//
// A detection with score >= the threshold hits a ground truth of its category on its image when
// IoU >= hit_iou (rule `iou`) or when its centre lies inside the ground-truth box (rule `center`,
// edges included). Detections are taken best first, per image (equal scores in their given
// order): one that hits a mass not yet found finds it (the one of highest IoU) and is a true
// positive; one that hits only masses already found, or ignored / crowd regions, is neither a
// true nor a false positive; one that hits nothing is a false positive. Because the
// outcome of a detection depends only on better ones, the same pass serves every threshold.
// TPR = masses found / masses; FPPI = false positives / images. Every detection counts (no
// per-image cap as AP has); categories are matched separately and their counts pooled.
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "mbmd/eval/types.h"

namespace mbmd::engine {

enum class HitRule { kIou, kCenter };

// "iou" or "center"; throws mbmd::Error for anything else.
HitRule parse_hit_rule(const std::string& text);
std::string to_string(HitRule rule);

// Which threshold best_under takes among those that reach the best TPR at FPPI <= the cap. On a
// small validation part many thresholds tie on TPR; the highest is the most cautious, the lowest
// spends the whole FPPI budget, the middle one sits between (docs/training.md, "The operating
// threshold").
enum class ThresholdRule { kHighest, kMiddle, kLowest };

// "highest", "middle" or "lowest"; throws mbmd::Error for anything else.
ThresholdRule parse_threshold_rule(const std::string& text);
std::string to_string(ThresholdRule rule);

struct DetectionRateParams {
  HitRule hit = HitRule::kIou;
  double hit_iou = 0.5;
  // false: images without any ground truth (normal images) count neither as images nor with
  // their false positives.
  bool count_normals = true;
};

struct OperatingPoint {
  double score_thr = std::numeric_limits<double>::infinity();
  double tpr = 0.0;  // -1 when there are no masses
  double fppi = 0.0;
  int64_t true_positives = 0;
  int64_t false_positives = 0;
};

// The default FPPI points of the CPM: 1/8, 1/4, 1/2, 1, 2, 4, 8.
std::vector<double> cpm_fppi_points();

class DetectionRates {
 public:
  DetectionRates(const EvalSet& set, const DetectionRateParams& params = {});

  // Detections with score >= score_thr count (+infinity: none).
  OperatingPoint at(double score_thr) const;
  // One point per distinct detection score, best first: FPPI and sensitivity rise along it.
  std::vector<OperatingPoint> froc() const;
  // Highest sensitivity reached at FPPI <= fppi (0 when no point is that low; -1 without masses).
  double sensitivity_at(double fppi) const;
  // Mean of sensitivity_at over `points` (LUNA16's competition performance metric).
  double cpm(const std::vector<double>& points = cpm_fppi_points()) const;
  // A threshold of highest TPR with FPPI <= fppi_cap; `rule` picks among the FROC points that tie
  // on it (kMiddle: the median point, the lower one of two). score_thr is +infinity (nothing
  // detected) when no point under the cap finds a mass.
  OperatingPoint best_under(double fppi_cap, ThresholdRule rule = ThresholdRule::kHighest) const;

  int64_t num_masses() const { return num_masses_; }
  int64_t num_images() const { return num_images_; }

 private:
  struct Scored {
    double score;
    int outcome;  // +1 true positive, -1 false positive, 0 neither
  };
  std::vector<Scored> scored_;  // every counted detection, best first
  int64_t num_masses_ = 0;
  int64_t num_images_ = 0;
};

}  // namespace mbmd::engine
