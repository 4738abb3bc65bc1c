// COCO average precision, following pycocotools' COCOeval.evaluateImg and accumulate step by step
// so that the numbers agree to rounding (tests/eval/coco_eval_test.cpp checks against it).
#include "mbmd/eval/coco_ap.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <unordered_map>

#include "mbmd/core/error.h"

namespace mbmd::engine {
namespace {

constexpr int kRecallPoints = 101;
// numpy's np.spacing(1), added to tp + fp so that an empty prefix divides to 0.
constexpr double kSpacingOne = 2.220446049250313e-16;

// pycocotools' evaluateImg result for one category, area range and image.
struct ImageEval {
  std::vector<double> scores;              // detections, best first, at most max_dets
  std::vector<std::vector<char>> matched;  // [threshold][detection]
  std::vector<std::vector<char>> ignored;  // [threshold][detection]
  int64_t num_gt = 0;                      // ground truths not ignored in this range
};

// Indices of `items` sorted by descending score; equal scores keep their order (mergesort).
std::vector<size_t> by_score(const std::vector<double>& scores) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  return order;
}

double box_area(const Box& b) { return (b[2] - b[0]) * (b[3] - b[1]); }

ImageEval evaluate_image(const std::vector<const GroundTruth*>& gts,
                         const std::vector<const Detection*>& dets,     // sorted, truncated
                         const std::vector<std::vector<double>>& ious,  // [det][gt]
                         const AreaRange& range, const std::vector<double>& thresholds) {
  const size_t G = gts.size(), D = dets.size(), T = thresholds.size();
  std::vector<char> gt_ignore(G);
  for (size_t g = 0; g < G; ++g) {
    const double area = gts[g]->effective_area();
    gt_ignore[g] = gts[g]->ignored() || area < range.min_area || area > range.max_area;
  }
  // Ground truths that count first, ignored ones last, each group in its given order.
  std::vector<size_t> gt_order(G);
  std::iota(gt_order.begin(), gt_order.end(), 0);
  std::stable_sort(gt_order.begin(), gt_order.end(),
                   [&](size_t a, size_t b) { return gt_ignore[a] < gt_ignore[b]; });

  ImageEval out;
  out.scores.reserve(D);
  for (const Detection* d : dets) out.scores.push_back(d->score);
  out.matched.assign(T, std::vector<char>(D, 0));
  out.ignored.assign(T, std::vector<char>(D, 0));
  for (size_t g = 0; g < G; ++g) out.num_gt += gt_ignore[g] ? 0 : 1;

  for (size_t t = 0; t < T; ++t) {
    std::vector<char> gt_taken(G, 0);  // indexed by position in gt_order
    for (size_t d = 0; d < D; ++d) {
      double best = std::min(thresholds[t], 1 - 1e-10);
      int m = -1;
      for (size_t p = 0; p < G; ++p) {
        const size_t g = gt_order[p];
        // A matched ground truth takes no other detection, unless it is a crowd region.
        if (gt_taken[p] && !gts[g]->iscrowd) continue;
        // Matched to a real ground truth already: the ignored ones that follow cannot replace it.
        if (m > -1 && !gt_ignore[gt_order[m]] && gt_ignore[g]) break;
        // `<` and not `<=`: of equal IoUs the later ground truth wins, as in pycocotools.
        if (ious[d][g] < best) continue;
        best = ious[d][g];
        m = static_cast<int>(p);
      }
      if (m == -1) continue;
      out.ignored[t][d] = gt_ignore[gt_order[m]];
      out.matched[t][d] = 1;
      gt_taken[m] = 1;
    }
    // Unmatched detections outside the area range are ignored.
    for (size_t d = 0; d < D; ++d) {
      const double area = box_area(dets[d]->box);
      if (!out.matched[t][d] && (area < range.min_area || area > range.max_area))
        out.ignored[t][d] = 1;
    }
  }
  return out;
}

}  // namespace

std::vector<AreaRange> coco_area_ranges() {
  return {{"all", 0.0, 1e5 * 1e5},
          {"small", 0.0, 32.0 * 32.0},
          {"medium", 32.0 * 32.0, 96.0 * 96.0},
          {"large", 96.0 * 96.0, 1e5 * 1e5}};
}

double CocoApResult::ap_at(double iou_thr, const std::string& area) const {
  for (size_t t = 0; t < iou_thrs.size(); ++t) {
    if (std::abs(iou_thrs[t] - iou_thr) > 1e-9) continue;
    for (size_t a = 0; a < area_ranges.size(); ++a)
      if (area_ranges[a].label == area) return ap[t][a];
    throw Error("AP for area range '" + area + "' was not evaluated");
  }
  throw Error("AP at IoU " + std::to_string(iou_thr) + " was not evaluated");
}

namespace {

void check_params(const CocoApParams& params) {
  if (params.max_dets < 1)
    throw Error("max_dets must be at least 1, got " + std::to_string(params.max_dets));
  for (double t : params.iou_thrs)
    if (!(t >= 0.0 && t <= 1.0))
      throw Error("IoU threshold " + std::to_string(t) + " is outside [0, 1]");
}

// pycocotools' evaluateImg for every category k, area range a and image i, at index
// (k * A + a) * I + i; nullopt where the image has neither ground truth nor detections of k.
std::vector<std::optional<ImageEval>> evaluate_images(const EvalSet& set,
                                                      const std::vector<int64_t>& categories,
                                                      const CocoApParams& params) {
  const size_t A = params.area_ranges.size(), K = categories.size(), I = set.image_ids.size();
  std::unordered_map<std::string, size_t> image_index;
  for (size_t i = 0; i < I; ++i) image_index[set.image_ids[i]] = i;
  std::unordered_map<int64_t, size_t> category_index;
  for (size_t k = 0; k < K; ++k) category_index[categories[k]] = k;
  std::vector<std::vector<const GroundTruth*>> gts(K * I);
  std::vector<std::vector<const Detection*>> dets(K * I);
  for (const auto& g : set.ground_truths)
    gts[category_index.at(g.category) * I + image_index.at(g.image_id)].push_back(&g);
  for (const auto& d : set.detections)
    dets[category_index.at(d.category) * I + image_index.at(d.image_id)].push_back(&d);

  std::vector<std::optional<ImageEval>> evals(K * A * I);
  for (size_t k = 0; k < K; ++k) {
    for (size_t i = 0; i < I; ++i) {
      const auto& image_gts = gts[k * I + i];
      auto& image_dets = dets[k * I + i];
      if (image_gts.empty() && image_dets.empty()) continue;
      std::vector<double> scores;
      for (const Detection* d : image_dets) scores.push_back(d->score);
      std::vector<const Detection*> sorted;
      for (size_t j : by_score(scores)) sorted.push_back(image_dets[j]);
      if (sorted.size() > static_cast<size_t>(params.max_dets)) sorted.resize(params.max_dets);
      std::vector<std::vector<double>> ious(sorted.size(), std::vector<double>(image_gts.size()));
      for (size_t d = 0; d < sorted.size(); ++d)
        for (size_t g = 0; g < image_gts.size(); ++g)
          ious[d][g] = box_iou(sorted[d]->box, image_gts[g]->box, image_gts[g]->iscrowd);
      for (size_t a = 0; a < A; ++a)
        evals[(k * A + a) * I + i] =
            evaluate_image(image_gts, sorted, ious, params.area_ranges[a], params.iou_thrs);
    }
  }
  return evals;
}

// The pooled detections of one category and area range at IoU threshold t, ranked by `order`:
// precision at the 101 recall points (the monotone envelope, as pycocotools) and the final recall.
std::vector<double> precision_curve(const std::vector<const ImageEval*>& present,
                                    const std::vector<size_t>& order, size_t t, int64_t num_gt,
                                    double* final_recall) {
  std::vector<char> matched, ignored;
  for (const ImageEval* e : present) {
    matched.insert(matched.end(), e->matched[t].begin(), e->matched[t].end());
    ignored.insert(ignored.end(), e->ignored[t].begin(), e->ignored[t].end());
  }
  const size_t n = order.size();
  std::vector<double> rc(n), pr(n);
  double tp = 0, fp = 0;
  for (size_t j = 0; j < n; ++j) {
    const size_t d = order[j];
    if (!ignored[d]) (matched[d] ? tp : fp) += 1;
    rc[j] = tp / static_cast<double>(num_gt);
    pr[j] = tp / (fp + tp + kSpacingOne);
  }
  *final_recall = n ? rc.back() : 0.0;
  // The monotone envelope: precision at a recall is the best at that recall or beyond.
  for (size_t j = n; j-- > 1;)
    if (pr[j] > pr[j - 1]) pr[j - 1] = pr[j];
  std::vector<double> q(kRecallPoints, 0.0);
  for (int r = 0; r < kRecallPoints; ++r) {
    // np.searchsorted(rc, r / 100, side='left'); recall points never reached keep precision 0.
    const double recall_point = r * 0.01;  // np.linspace(0, 1, 101)
    const size_t j = std::lower_bound(rc.begin(), rc.end(), recall_point) - rc.begin();
    if (j >= n) break;
    q[r] = pr[j];
  }
  return q;
}

// pycocotools' accumulate: pools the images of each category and area range, ranks all their
// detections and fills result.precision; returns recall[t][a][k] (-1 where undefined).
std::vector<std::vector<std::vector<double>>> accumulate(
    const std::vector<std::optional<ImageEval>>& evals, size_t I, CocoApResult& result) {
  const size_t T = result.iou_thrs.size(), A = result.area_ranges.size();
  const size_t K = result.categories.size();
  result.precision.assign(
      T, std::vector<std::vector<std::vector<double>>>(A, std::vector<std::vector<double>>(K)));
  std::vector<std::vector<std::vector<double>>> recall(
      T, std::vector<std::vector<double>>(A, std::vector<double>(K, -1.0)));
  for (size_t k = 0; k < K; ++k) {
    for (size_t a = 0; a < A; ++a) {
      std::vector<const ImageEval*> present;
      for (size_t i = 0; i < I; ++i)
        if (const auto& e = evals[(k * A + a) * I + i]) present.push_back(&*e);
      std::vector<double> scores;
      int64_t num_gt = 0;
      for (const ImageEval* e : present) {
        scores.insert(scores.end(), e->scores.begin(), e->scores.end());
        num_gt += e->num_gt;
      }
      if (present.empty() || num_gt == 0) continue;
      const std::vector<size_t> order = by_score(scores);
      for (size_t t = 0; t < T; ++t)
        result.precision[t][a][k] = precision_curve(present, order, t, num_gt, &recall[t][a][k]);
    }
  }
  return recall;
}

// AP and recall of each threshold and area range: means over the categories that define them.
void summarize(const std::vector<std::vector<std::vector<double>>>& recall, CocoApResult& result) {
  const size_t T = result.iou_thrs.size(), A = result.area_ranges.size();
  const size_t K = result.categories.size();
  result.ap.assign(T, std::vector<double>(A, -1.0));
  result.recall.assign(T, std::vector<double>(A, -1.0));
  for (size_t t = 0; t < T; ++t) {
    for (size_t a = 0; a < A; ++a) {
      double sum = 0, recall_sum = 0;
      size_t count = 0, recall_count = 0;
      for (size_t k = 0; k < K; ++k) {
        for (double p : result.precision[t][a][k]) sum += p;
        count += result.precision[t][a][k].size();
        if (recall[t][a][k] > -1) {
          recall_sum += recall[t][a][k];
          ++recall_count;
        }
      }
      if (count) result.ap[t][a] = sum / static_cast<double>(count);
      if (recall_count) result.recall[t][a] = recall_sum / static_cast<double>(recall_count);
    }
  }
}

}  // namespace

CocoApResult coco_average_precision(const EvalSet& set, const CocoApParams& params) {
  validate(set);
  check_params(params);
  CocoApResult result;
  result.iou_thrs = params.iou_thrs;
  result.area_ranges = params.area_ranges;
  result.categories = evaluated_categories(set);
  const auto evals = evaluate_images(set, result.categories, params);
  summarize(accumulate(evals, set.image_ids.size(), result), result);
  return result;
}

}  // namespace mbmd::engine
