// mbmd's side of the performance harness (bench/run.sh, docs/performance.md). Each mode prints one
// JSON object per measurement on stdout, as tools/bench_torchvision.py does for torchvision.
//
//   mbmd_bench [--threads 2] [--device cpu|cuda] infer --config NAME [--weights PATH] [--set
//   k=v]...
//              [--sizes HxW,...] [--runs N] [--warmup W]
//              latency of prepare_image + collate + forward_test + detections back on the CPU,
//              warm (on a GPU the raw image is copied there first, inside the timed part)
//   mbmd_bench train --config NAME [--size HxW] [--batch B] [--steps N] [--warmup W]
//              one SGD step (forward_train, backward, step) on B images with one box each
//   mbmd_bench flops --config NAME [--size HxW] [--runs N]
//              multiply-adds (mmcv's count) of the whole network (forward_dummy, 1000 boxes) and of
//              the ResNet body, and the body's time alternating with a [n, n] at::mm: the achieved
//              GFLOP/s against the peak measured beside it
//   mbmd_bench profile --config NAME [--size HxW] [--runs N]
//              time of each stage of inference: body, neck, RPN head, proposals, RoI extraction,
//              box head, post-processing
//   mbmd_bench mm [--n 4096] [--runs N]  FP32 matrix-multiply peak (at::mm)
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sys/resource.h>
#include <torch/cuda.h>
#include <torch/optim/sgd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "mbmd/core/config.h"
#include "mbmd/core/error.h"
#include "mbmd/core/threads.h"
#include "mbmd/io/checkpoint.h"
#include "mbmd/model/detector.h"
#include "mbmd/model/flop_counter.h"
#include "mbmd/model/precision.h"
#include "mbmd/model/rpn.h"
#include "mbmd/model/weights.h"

namespace {

using mbmd::Error;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string mode;
  int threads = 2;
  std::string config = "faster_rcnn_r50_fpn";
  std::string weights;
  std::vector<std::string> overrides;
  std::string sizes = "800x1333";
  int runs = 3;
  int warmup = 1;
  int64_t n = 4096;
  std::string device = "cpu";
  int64_t batch = 1;
};

// Waits for the GPU's queued work, so that a timer read after it covers that work.
void synchronize(const at::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

long peak_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

std::pair<int64_t, int64_t> parse_size(const std::string& text) {
  const auto x = text.find('x');
  if (x == std::string::npos) throw Error("size '" + text + "': expected HxW, e.g. 800x1333");
  try {
    return {std::stoll(text.substr(0, x)), std::stoll(text.substr(x + 1))};
  } catch (const std::exception&) {
    throw Error("size '" + text + "': expected HxW, e.g. 800x1333");
  }
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, sep))
    if (!part.empty()) parts.push_back(part);
  return parts;
}

std::string times_json(const std::vector<double>& times) {
  std::string out = "[";
  for (size_t i = 0; i < times.size(); ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%.4f", i ? ", " : "", times[i]);
    out += buf;
  }
  return out + "]";
}

// The same grey breast-like picture as tools/bench_torchvision.py, in 0..255 ([3, H, W]).
at::Tensor synthetic_image(int64_t h, int64_t w) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  auto ys = at::linspace(-1, 1, h).view({h, 1});
  auto xs = at::linspace(-1, 1, w).view({1, w});
  auto tissue = (1 - (xs + 0.2).pow(2) - 0.6 * ys.pow(2)).clamp(0, 1);
  auto img = 0.6 * tissue + 0.1 * at::rand({h, w}, gen);
  img = img + 0.3 * at::exp(-((xs - 0.1).pow(2) + (ys - 0.2).pow(2)) / 0.01);
  return (img.clamp(0, 1) * 255).round().expand({3, h, w}).contiguous();
}

mbmd::Json config_for(const Options& o, int64_t h, int64_t w) {
  auto config = mbmd::load_config(o.config);
  mbmd::apply_overrides(config, o.overrides);
  // The input keeps its size: long and short side limits are the image's own.
  mbmd::apply_overrides(config, {"input.scale=[" + std::to_string(std::max(h, w)) + "," +
                                 std::to_string(std::min(h, w)) + "]"});
  return config;
}

mbmd::model::FasterRCNN build(const Options& o, const mbmd::Json& config) {
  mbmd::model::FasterRCNN model(mbmd::model::detector_options_from_config(config));
  if (!o.weights.empty())
    mbmd::model::load_weights(*model, mbmd::io::load_state_dict(o.weights), o.weights);
  model->to(at::Device(o.device));
  return model;
}

// runtime.precision of the run ("fp32" or "bf16", where this CPU can run it), on every line.
std::string g_precision = "fp32";

void emit(const std::string& body) {
  std::cout << "{\"side\": \"mbmd\", \"precision\": \"" << g_precision << "\", " << body << "}"
            << std::endl;
}

std::string precision_of(const Options& o) {
  if (o.config.empty()) return "fp32";
  auto config = mbmd::load_config(o.config);
  mbmd::apply_overrides(config, o.overrides);
  const auto options = mbmd::model::detector_options_from_config(config);
  const at::DeviceType device = at::Device(o.device).type();
  return mbmd::model::to_string(mbmd::model::usable_precision(options.precision, device));
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// As `mbmd predict` loads a model: in eval mode, with bf16 weights in a bf16 run.
mbmd::model::FasterRCNN build_for_inference(const Options& o, const mbmd::Json& config) {
  auto model = build(o, config);
  model->eval();
  const at::DeviceType device = at::Device(o.device).type();
  mbmd::model::hold_inference_weights(
      *model, mbmd::model::usable_precision(model->options().precision, device));
  return model;
}

void run_infer(const Options& o) {
  std::vector<std::pair<int64_t, int64_t>> sizes;
  for (const auto& s : split(o.sizes, ',')) sizes.push_back(parse_size(s));
  auto model = build_for_inference(o, config_for(o, sizes[0].first, sizes[0].second));
  const at::Device device(o.device);
  for (const auto& [h, w] : sizes) {
    // Same weights, new input limits: only InputOptions depend on the size.
    const auto options = mbmd::model::detector_options_from_config(config_for(o, h, w));
    const auto image = synthetic_image(h, w);
    std::vector<double> times;
    size_t detections = 0;
    for (int i = 0; i < o.warmup + o.runs; ++i) {
      synchronize(device);
      const auto start = Clock::now();
      at::InferenceMode guard;
      const auto prepared = mbmd::model::prepare_image(image.to(device), options.input);
      const auto batch = mbmd::model::collate({prepared}, options.input.size_divisor);
      const auto dets = model->forward_test(batch);
      const auto boxes = dets[0].boxes.cpu();
      const auto scores = dets[0].scores.cpu();
      const double elapsed = seconds_since(start);
      if (i >= o.warmup) times.push_back(elapsed);
      detections = static_cast<size_t>(boxes.size(0));
    }
    emit("\"mode\": \"infer\", \"config\": " + quoted(o.config) + ", \"size\": " +
         quoted(std::to_string(h) + "x" + std::to_string(w)) + ", \"device\": " + quoted(o.device) +
         ", \"times\": " + times_json(times) + ", \"detections\": " + std::to_string(detections));
  }
  emit("\"mode\": \"memory\", \"config\": " + quoted(o.config) +
       ", \"peak_rss_kb\": " + std::to_string(peak_rss_kb()));
}

void run_train(const Options& o) {
  const auto [h, w] = parse_size(o.sizes);
  const auto config = config_for(o, h, w);
  at::manual_seed(0);  // initial weights and the samplers' draws: the same steps every run
  auto model = build(o, config);
  model->train();
  std::vector<at::Tensor> params;
  for (const auto& p : model->parameters())
    if (p.requires_grad()) params.push_back(p);
  torch::optim::SGD optimizer(params,
                              torch::optim::SGDOptions(0.001).momentum(0.9).weight_decay(1e-4));
  const auto& options = model->options();
  const at::Device device(o.device);
  const auto prepared = mbmd::model::prepare_image(synthetic_image(h, w), options.input);
  auto batch = mbmd::model::collate(
      std::vector<mbmd::model::PreparedImage>(static_cast<size_t>(o.batch), prepared),
      options.input.size_divisor);
  batch.images = batch.images.to(device);
  const double fw = static_cast<double>(w), fh = static_cast<double>(h);
  for (int64_t b = 0; b < o.batch; ++b) {
    batch.gt_boxes.push_back(at::tensor({0.40 * fw, 0.45 * fh, 0.62 * fw, 0.68 * fh}, at::kFloat)
                                 .view({1, 4})
                                 .to(device));
    batch.gt_labels.push_back(at::zeros({1}, at::TensorOptions(at::kLong).device(device)));
  }
  std::vector<double> times;
  double last_loss = 0;
  for (int i = 0; i < o.warmup + o.runs; ++i) {
    synchronize(device);
    const auto start = Clock::now();
    const auto losses = model->forward_train(batch);
    at::Tensor loss;
    for (const auto& [name, value] : losses) loss = loss.defined() ? loss + value : value;
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    synchronize(device);
    const double elapsed = seconds_since(start);
    if (i >= o.warmup) times.push_back(elapsed);
    last_loss = loss.item<double>();
  }
  char loss_text[32];
  std::snprintf(loss_text, sizeof loss_text, "%.4f", last_loss);
  emit("\"mode\": \"train\", \"config\": " + quoted(o.config) + ", \"size\": " + quoted(o.sizes) +
       ", \"device\": " + quoted(o.device) + ", \"batch\": " + std::to_string(o.batch) +
       ", \"times\": " + times_json(times) + ", \"loss\": " + loss_text +
       ", \"peak_rss_kb\": " + std::to_string(peak_rss_kb()));
}

void run_flops(const Options& o) {
  const auto [h, w] = parse_size(o.sizes);
  const auto config = config_for(o, h, w);
  auto model = build(o, config);
  model->eval();
  const auto& options = model->options();
  const auto batch =
      mbmd::model::collate({mbmd::model::prepare_image(synthetic_image(h, w), options.input)},
                           options.input.size_divisor);
  at::InferenceMode guard;
  double total = 0, body = 0;
  {
    mbmd::model::FlopCountScope scope;
    model->forward_dummy(batch.images, 1000);
    total = scope.flops();
  }
  {
    mbmd::model::FlopCountScope scope;
    model->backbone->forward(batch.images);
    body = scope.flops();
  }
  // The body and the matrix-multiply peak alternate in one process, so that both see the same
  // machine: load from other processes moves them together.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  const auto a = at::rand({o.n, o.n}, gen);
  const auto b = at::rand({o.n, o.n}, gen);
  std::vector<double> body_times, mm_times;
  for (int i = 0; i < o.warmup + o.runs; ++i) {
    auto start = Clock::now();
    model->backbone->forward(batch.images);
    const double body_elapsed = seconds_since(start);
    start = Clock::now();
    at::mm(a, b);
    const double mm_elapsed = seconds_since(start);
    if (i >= o.warmup) {
      body_times.push_back(body_elapsed);
      mm_times.push_back(mm_elapsed);
    }
  }
  char buf[128];
  std::snprintf(buf, sizeof buf, "\"network_gmac\": %.2f, \"body_gmac\": %.2f", total / 1e9,
                body / 1e9);
  emit("\"mode\": \"flops\", \"config\": " + quoted(o.config) + ", \"size\": " +
       quoted(std::to_string(batch.images.size(2)) + "x" + std::to_string(batch.images.size(3))) +
       ", " + buf + ", \"body_times\": " + times_json(body_times) +
       ", \"mm_n\": " + std::to_string(o.n) + ", \"mm_times\": " + times_json(mm_times));
}

// Where inference time goes: each stage of forward_test timed on its own (median of the runs).
void run_profile(const Options& o) {
  const auto [h, w] = parse_size(o.sizes);
  const auto config = config_for(o, h, w);
  auto model = build_for_inference(o, config);
  const auto& options = model->options();
  const mbmd::model::RegionProposer proposer(options);
  const auto image = synthetic_image(h, w);
  std::map<std::string, std::vector<double>> stages;
  const std::vector<std::string> order = {"prepare",   "body",      "neck",
                                          "rpn_head",  "proposals", "roi_extract",
                                          "bbox_head", "post",      "total"};
  for (int i = 0; i < o.warmup + o.runs; ++i) {
    at::InferenceMode guard;
    std::map<std::string, double> t;
    auto start = Clock::now();
    const auto begin = start;
    auto lap = [&](const std::string& name) {
      t[name] = seconds_since(start);
      start = Clock::now();
    };
    const auto batch = mbmd::model::collate({mbmd::model::prepare_image(image, options.input)},
                                            options.input.size_divisor);
    lap("prepare");
    const auto body = model->backbone->forward(batch.images);
    lap("body");
    const auto feats = model->neck->forward(body);
    lap("neck");
    const auto rpn_out = model->rpn_head->forward(feats);
    lap("rpn_head");
    const auto anchors = proposer.anchors(feats, batch.images);
    const auto proposals = proposer.proposals(rpn_out, anchors, batch.metas, false);
    lap("proposals");
    const std::vector<at::Tensor> levels(feats.begin(), feats.begin() + 4);
    const auto rois = mbmd::model::boxes_to_rois(proposals);
    const auto pooled = model->roi_head->extract(levels, rois, batch.images);
    lap("roi_extract");
    model->roi_head->bbox_head->forward(pooled);
    lap("bbox_head");
    // detect() runs extraction and the head again; its remainder is the post-processing.
    const auto detect_start = Clock::now();
    model->roi_head->detect(levels, batch.images, proposals, batch.metas);
    t["post"] = std::max(0.0, seconds_since(detect_start) - t["roi_extract"] - t["bbox_head"]);
    t["total"] = seconds_since(begin) - seconds_since(detect_start) + t["post"];
    if (i >= o.warmup)
      for (const auto& name : order) stages[name].push_back(t[name]);
  }
  std::string body = "\"mode\": \"profile\", \"config\": " + quoted(o.config) +
                     ", \"size\": " + quoted(o.sizes) + ", \"stages\": {";
  for (size_t i = 0; i < order.size(); ++i)
    body += (i ? ", " : "") + quoted(order[i]) + ": " + times_json(stages[order[i]]);
  emit(body + "}");
}

void run_mm(const Options& o) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  const auto a = at::rand({o.n, o.n}, gen);
  const auto b = at::rand({o.n, o.n}, gen);
  std::vector<double> times;
  for (int i = 0; i < o.warmup + o.runs; ++i) {
    const auto start = Clock::now();
    const auto c = at::mm(a, b);
    const double elapsed = seconds_since(start);
    if (i >= o.warmup) times.push_back(elapsed);
  }
  emit("\"mode\": \"mm\", \"n\": " + std::to_string(o.n) + ", \"times\": " + times_json(times));
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw Error("option " + arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--threads") {
      o.threads = std::stoi(value());
    } else if (arg == "--config") {
      o.config = value();
    } else if (arg == "--weights") {
      o.weights = value();
    } else if (arg == "--set") {
      o.overrides.push_back(value());
    } else if (arg == "--sizes" || arg == "--size") {
      o.sizes = value();
    } else if (arg == "--runs" || arg == "--steps") {
      o.runs = std::stoi(value());
    } else if (arg == "--warmup") {
      o.warmup = std::stoi(value());
    } else if (arg == "--n") {
      o.n = std::stoll(value());
    } else if (arg == "--device") {
      o.device = value();
    } else if (arg == "--batch") {
      o.batch = std::stoll(value());
      if (o.batch < 1) throw Error("--batch must be at least 1");
    } else if (o.mode.empty() && arg.rfind("--", 0) != 0) {
      o.mode = arg;
    } else {
      throw Error("unknown argument '" + arg + "' (modes: infer, train, flops, profile, mm)");
    }
  }
  if (o.mode.empty())
    throw Error(
        "usage: mbmd_bench [--threads N] [--device cpu|cuda] infer|train|flops|profile|mm ...");
  if (o.device != "cpu" && o.device.rfind("cuda", 0) != 0)
    throw Error("--device must be cpu or cuda[:N], got '" + o.device + "'");
  if (o.device != "cpu" && !at::hasCUDA())
    throw Error("--device " + o.device + ": this LibTorch has no CUDA device available");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const auto o = parse(argc, argv);
    mbmd::configure_threads(o.threads);
    g_precision = precision_of(o);
    if (o.mode == "infer") {
      run_infer(o);
    } else if (o.mode == "train") {
      run_train(o);
    } else if (o.mode == "flops") {
      run_flops(o);
    } else if (o.mode == "profile") {
      run_profile(o);
    } else if (o.mode == "mm") {
      run_mm(o);
    } else {
      throw Error("unknown mode '" + o.mode + "' (modes: infer, train, flops, profile, mm)");
    }
  } catch (const std::exception& e) {
    std::cerr << "mbmd_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
