#include "mbmd/model/detector_options.h"

#include "mbmd/core/error.h"

namespace mbmd::model {

namespace {

template <size_t N>
std::array<double, N> fixed_array(const Json& config, const std::string& key) {
  const auto& value = config_at(config, key);
  if (!value.is_array() || value.size() != N)
    throw Error("config key '" + key + "' must be a list of " + std::to_string(N) + " numbers");
  std::array<double, N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = value[i].get<double>();
  return out;
}

template <typename T>
T get(const Json& config, const std::string& key) {
  return config_at(config, key).get<T>();
}

void require(bool ok, const std::string& key, const std::string& why) {
  if (!ok) throw Error("config key '" + key + "': " + why);
}

// model.<part>.norm and model.<part>.ws, with the shared model.norm_groups.
NormOptions norm_options(const Json& c, const std::string& part, bool allow_none) {
  NormOptions n;
  n.kind = parse_norm_kind(get<std::string>(c, "model." + part + ".norm"),
                           "model." + part + ".norm", allow_none);
  n.groups = get<int64_t>(c, "model.norm_groups");
  require(n.groups >= 1, "model.norm_groups", "must be at least 1");
  n.weight_standardisation = get<bool>(c, "model." + part + ".ws");
  require(!n.weight_standardisation || n.kind != NormKind::none, "model." + part + ".ws",
          "needs a norm after the convolutions (model." + part + ".norm is none)");
  return n;
}

ProposalOptions proposal_options(const Json& c, const std::string& prefix) {
  ProposalOptions p;
  p.pre_nms_top_n = get<int64_t>(c, prefix + ".pre_nms_top_n");
  p.post_nms_top_n = get<int64_t>(c, prefix + ".post_nms_top_n");
  p.nms_iou = get<double>(c, prefix + ".nms_iou");
  require(p.pre_nms_top_n > 0, prefix + ".pre_nms_top_n", "must be positive");
  require(p.post_nms_top_n > 0, prefix + ".post_nms_top_n", "must be positive");
  return p;
}

}  // namespace

DetectorOptions detector_options_from_config(const Json& c) {
  DetectorOptions o;
  o.num_classes = get<int64_t>(c, "model.num_classes");
  require(o.num_classes >= 1, "model.num_classes", "must be at least 1");
  require(get<std::string>(c, "model.backbone.type") == "resnet", "model.backbone.type",
          "only 'resnet' is available");
  o.backbone.depth = get<int>(c, "model.backbone.depth");
  o.backbone.frozen_stages = get<int>(c, "model.backbone.frozen_stages");
  o.backbone.norm_eval = get<bool>(c, "model.backbone.norm_eval");
  o.backbone.channels_last = get<bool>(c, "model.backbone.channels_last");
  o.backbone.norm = norm_options(c, "backbone", /*allow_none=*/false);
  o.pretrained = get<std::string>(c, "model.backbone.pretrained");
  // Configs saved in checkpoints before the key existed run in fp32.
  if (c.contains("runtime") && c["runtime"].contains("precision"))
    o.precision = parse_precision(get<std::string>(c, "runtime.precision"));
  o.neck = get<std::string>(c, "model.neck.type");
  o.neck_channels = get<int64_t>(c, "model.neck.out_channels");
  require(o.neck_channels > 0, "model.neck.out_channels", "must be positive");
  o.neck_norm = norm_options(c, "neck", /*allow_none=*/true);

  o.anchors.scales = get<std::vector<double>>(c, "model.anchor.scales");
  o.anchors.ratios = get<std::vector<double>>(c, "model.anchor.ratios");
  o.anchors.strides = get<std::vector<double>>(c, "model.anchor.strides");
  o.anchors.sizes = get<std::vector<double>>(c, "model.anchor.sizes");
  o.anchors.round_base = get<bool>(c, "model.anchor.round_base");
  o.anchors.stride_from_feature_size = get<bool>(c, "model.anchor.stride_from_feature_size");
  require(o.anchors.strides.size() == 5, "model.anchor.strides",
          "must list 5 strides (the necks give 5 levels)");
  require(o.anchors.sizes.empty() || o.anchors.sizes.size() == 5, "model.anchor.sizes",
          "must be empty or list 5 sizes");
  for (double r : o.anchors.ratios) require(r > 0, "model.anchor.ratios", "must be positive");

  auto& rpn = o.rpn;
  rpn.feat_channels = get<int64_t>(c, "model.rpn.feat_channels");
  rpn.target_stds = fixed_array<4>(c, "model.rpn.target_stds");
  rpn.clamp_min_delta = get<bool>(c, "model.rpn.clamp_min_delta");
  rpn.min_box_size = get<double>(c, "model.rpn.min_box_size");
  rpn.assign.pos_iou_thr = get<double>(c, "model.rpn.train.pos_iou_thr");
  rpn.assign.neg_iou_thr = get<double>(c, "model.rpn.train.neg_iou_thr");
  rpn.assign.min_pos_iou = get<double>(c, "model.rpn.train.min_pos_iou");
  rpn.num_samples = get<int64_t>(c, "model.rpn.train.num_samples");
  rpn.pos_fraction = get<double>(c, "model.rpn.train.pos_fraction");
  rpn.train.pre_nms_top_n = get<int64_t>(c, "model.rpn.train.pre_nms_top_n");
  rpn.train.post_nms_top_n = get<int64_t>(c, "model.rpn.train.post_nms_top_n");
  rpn.train.nms_iou = get<double>(c, "model.rpn.train.nms_iou");
  rpn.test = proposal_options(c, "model.rpn.test");

  auto& roi = o.roi;
  roi.output_size = get<int64_t>(c, "model.roi.output_size");
  roi.sampling_ratio = get<int64_t>(c, "model.roi.sampling_ratio");
  roi.aligned = get<bool>(c, "model.roi.aligned");
  roi.level_mapping = get<std::string>(c, "model.roi.level_mapping");
  require(roi.level_mapping == "mmdet" || roi.level_mapping == "torchvision",
          "model.roi.level_mapping",
          "must be 'mmdet' or 'torchvision', got '" + roi.level_mapping + "'");
  roi.finest_scale = get<double>(c, "model.roi.finest_scale");
  roi.fc_channels = get<int64_t>(c, "model.roi.fc_channels");
  roi.head = get<std::string>(c, "model.roi.head");
  require(roi.head == "2fc" || roi.head == "4conv1fc", "model.roi.head",
          "must be '2fc' or '4conv1fc', got '" + roi.head + "'");
  roi.conv_channels = get<int64_t>(c, "model.roi.conv_channels");
  require(roi.conv_channels > 0, "model.roi.conv_channels", "must be positive");
  roi.norm = norm_options(c, "roi", /*allow_none=*/true);
  roi.background_first = get<bool>(c, "model.roi.background_first");
  roi.target_stds = fixed_array<4>(c, "model.roi.target_stds");
  roi.clamp_min_delta = get<bool>(c, "model.roi.clamp_min_delta");
  roi.assign.pos_iou_thr = get<double>(c, "model.roi.train.pos_iou_thr");
  roi.assign.neg_iou_thr = get<double>(c, "model.roi.train.neg_iou_thr");
  roi.assign.min_pos_iou = roi.assign.pos_iou_thr;
  roi.assign.match_low_quality = false;
  roi.num_samples = get<int64_t>(c, "model.roi.train.num_samples");
  roi.pos_fraction = get<double>(c, "model.roi.train.pos_fraction");
  roi.add_gt_as_proposals = get<bool>(c, "model.roi.train.add_gt_as_proposals");
  roi.score_thr = get<double>(c, "model.roi.test.score_thr");
  roi.nms_iou = get<double>(c, "model.roi.test.nms_iou");
  roi.max_per_img = get<int64_t>(c, "model.roi.test.max_per_img");
  roi.min_box_size = get<double>(c, "model.roi.test.min_box_size");
  roi.nms_in_original_scale = get<bool>(c, "model.roi.test.nms_in_original_scale");
  require(roi.output_size > 0, "model.roi.output_size", "must be positive");

  auto& in = o.input;
  const auto scale = get<std::vector<int64_t>>(c, "input.scale");
  require(scale.size() == 2 && scale[0] > 0 && scale[1] > 0, "input.scale",
          "must be [long side, short side], both positive");
  in.max_long = std::max(scale[0], scale[1]);
  in.max_short = std::min(scale[0], scale[1]);
  in.resize = get<std::string>(c, "input.resize");
  require(in.resize == "mmdet" || in.resize == "torchvision", "input.resize",
          "must be 'mmdet' or 'torchvision', got '" + in.resize + "'");
  in.mean = fixed_array<3>(c, "input.mean");
  in.std = fixed_array<3>(c, "input.std");
  in.unit_range = get<bool>(c, "input.unit_range");
  in.size_divisor = get<int64_t>(c, "input.size_divisor");
  require(in.size_divisor >= 1, "input.size_divisor", "must be at least 1");
  in.flip_prob = get<double>(c, "input.flip_prob");
  require(in.flip_prob >= 0 && in.flip_prob <= 1, "input.flip_prob", "must be in [0, 1]");
  in.crop_breast.enabled = get<bool>(c, "input.crop_breast.enabled");
  in.crop_breast.threshold = get<double>(c, "input.crop_breast.threshold");
  require(in.crop_breast.threshold >= 0 && in.crop_breast.threshold < 255,
          "input.crop_breast.threshold", "must be a grey level in [0, 255)");
  in.crop_breast.margin = get<int64_t>(c, "input.crop_breast.margin");
  require(in.crop_breast.margin >= 0, "input.crop_breast.margin", "must be >= 0");
  in.canonical_side = get<bool>(c, "input.canonical_side");
  return o;
}

}  // namespace mbmd::model
