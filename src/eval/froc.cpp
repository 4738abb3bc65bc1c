#include "mbmd/eval/froc.h"

#include <algorithm>
#include <unordered_map>

#include "mbmd/core/error.h"

namespace mbmd::engine {
namespace {

bool centre_inside(const Box& det, const Box& gt) {
  const double cx = 0.5 * (det[0] + det[2]), cy = 0.5 * (det[1] + det[3]);
  return cx >= gt[0] && cx <= gt[2] && cy >= gt[1] && cy <= gt[3];
}

}  // namespace

HitRule parse_hit_rule(const std::string& text) {
  if (text == "iou") return HitRule::kIou;
  if (text == "center") return HitRule::kCenter;
  throw Error("unknown hit rule '" + text + "' (expected iou or center)");
}

std::string to_string(HitRule rule) { return rule == HitRule::kIou ? "iou" : "center"; }

ThresholdRule parse_threshold_rule(const std::string& text) {
  if (text == "highest") return ThresholdRule::kHighest;
  if (text == "middle") return ThresholdRule::kMiddle;
  if (text == "lowest") return ThresholdRule::kLowest;
  throw Error("unknown threshold rule '" + text + "' (expected highest, middle or lowest)");
}

std::string to_string(ThresholdRule rule) {
  switch (rule) {
    case ThresholdRule::kHighest:
      return "highest";
    case ThresholdRule::kMiddle:
      return "middle";
    case ThresholdRule::kLowest:
      return "lowest";
  }
  return "highest";
}

std::vector<double> cpm_fppi_points() { return {0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0}; }

DetectionRates::DetectionRates(const EvalSet& set, const DetectionRateParams& params) {
  validate(set);
  if (params.hit == HitRule::kIou && !(params.hit_iou > 0.0 && params.hit_iou <= 1.0))
    throw Error("hit IoU must be in (0, 1], got " + std::to_string(params.hit_iou));

  std::unordered_map<std::string, std::vector<const GroundTruth*>> gts;
  std::unordered_map<std::string, std::vector<const Detection*>> dets;
  for (const auto& g : set.ground_truths) gts[g.image_id].push_back(&g);
  for (const auto& d : set.detections) dets[d.image_id].push_back(&d);

  for (const std::string& image : set.image_ids) {
    const auto& image_gts = gts[image];
    if (image_gts.empty() && !params.count_normals) continue;
    ++num_images_;
    for (const GroundTruth* g : image_gts) num_masses_ += g->ignored() ? 0 : 1;
    auto& image_dets = dets[image];
    std::stable_sort(image_dets.begin(), image_dets.end(),
                     [](const Detection* a, const Detection* b) { return a->score > b->score; });
    std::vector<char> found(image_gts.size(), 0);
    for (const Detection* d : image_dets) {
      int best = -1;
      double best_iou = -1.0;
      bool hits_any = false;
      for (size_t g = 0; g < image_gts.size(); ++g) {
        const GroundTruth& gt = *image_gts[g];
        if (gt.category != d->category) continue;
        const double iou = box_iou(d->box, gt.box, gt.iscrowd);
        const bool hit =
            params.hit == HitRule::kIou ? iou >= params.hit_iou : centre_inside(d->box, gt.box);
        if (!hit) continue;
        hits_any = true;
        if (!gt.ignored() && !found[g] && iou > best_iou) {
          best = static_cast<int>(g);
          best_iou = iou;
        }
      }
      if (best >= 0) found[best] = 1;
      scored_.push_back({d->score, best >= 0 ? 1 : (hits_any ? 0 : -1)});
    }
  }
  std::stable_sort(scored_.begin(), scored_.end(),
                   [](const Scored& a, const Scored& b) { return a.score > b.score; });
}

OperatingPoint DetectionRates::at(double score_thr) const {
  OperatingPoint point;
  point.score_thr = score_thr;
  for (const Scored& s : scored_) {
    if (!(s.score >= score_thr)) break;
    point.true_positives += s.outcome > 0;
    point.false_positives += s.outcome < 0;
  }
  point.tpr = num_masses_ ? static_cast<double>(point.true_positives) / num_masses_ : -1.0;
  point.fppi = num_images_ ? static_cast<double>(point.false_positives) / num_images_ : 0.0;
  return point;
}

std::vector<OperatingPoint> DetectionRates::froc() const {
  std::vector<OperatingPoint> curve;
  OperatingPoint point;
  for (size_t j = 0; j < scored_.size(); ++j) {
    point.true_positives += scored_[j].outcome > 0;
    point.false_positives += scored_[j].outcome < 0;
    if (j + 1 < scored_.size() && scored_[j + 1].score == scored_[j].score) continue;
    point.score_thr = scored_[j].score;
    point.tpr = num_masses_ ? static_cast<double>(point.true_positives) / num_masses_ : -1.0;
    point.fppi = num_images_ ? static_cast<double>(point.false_positives) / num_images_ : 0.0;
    curve.push_back(point);
  }
  return curve;
}

double DetectionRates::sensitivity_at(double fppi) const {
  if (num_masses_ == 0) return -1.0;
  double best = 0.0;
  for (const OperatingPoint& p : froc())
    if (p.fppi <= fppi) best = std::max(best, p.tpr);
  return best;
}

double DetectionRates::cpm(const std::vector<double>& points) const {
  if (num_masses_ == 0 || points.empty()) return -1.0;
  double sum = 0.0;
  for (double x : points) sum += sensitivity_at(x);
  return sum / static_cast<double>(points.size());
}

OperatingPoint DetectionRates::best_under(double fppi_cap, ThresholdRule rule) const {
  const OperatingPoint nothing = at(std::numeric_limits<double>::infinity());
  // Thresholds fall along the curve and TPR only rises, so the points that tie on the best TPR
  // under the cap are the last run of points before FPPI passes it.
  std::vector<OperatingPoint> ties;
  for (const OperatingPoint& p : froc()) {
    if (p.fppi > fppi_cap) break;
    if (p.tpr <= nothing.tpr) continue;
    if (!ties.empty() && p.tpr > ties.front().tpr) ties.clear();
    ties.push_back(p);
  }
  if (ties.empty()) return nothing;
  switch (rule) {
    case ThresholdRule::kHighest:
      return ties.front();
    case ThresholdRule::kMiddle:
      return ties[ties.size() / 2];
    case ThresholdRule::kLowest:
      return ties.back();
  }
  return ties.front();
}

}  // namespace mbmd::engine
