// `mbmd stats`: parameters and GFLOPs of a config, counted as mmdetection 2.x's get_flops does.
#include <cstdio>
#include <iostream>
#include <map>

#include "arg_parser.h"
#include "command.h"
#include "mbmd/core/config.h"
#include "mbmd/core/error.h"
#include "mbmd/core/threads.h"
#include "mbmd/model/detector.h"
#include "mbmd/model/flop_counter.h"

namespace mbmd::cli {

namespace {

std::pair<int64_t, int64_t> parse_shape(const std::string& text) {
  const auto x = text.find('x');
  try {
    if (x != std::string::npos) {
      size_t a = 0, b = 0;
      const int64_t w = std::stoll(text.substr(0, x), &a);
      const int64_t h = std::stoll(text.substr(x + 1), &b);
      if (a == x && b == text.size() - x - 1 && w > 0 && h > 0) return {w, h};
    }
  } catch (const std::exception&) {
  }
  throw Error("--shape: expected WIDTHxHEIGHT such as 1280x800, got '" + text + "'");
}

// The paper's Tables 1 and 4 (two foreground classes, 1333x800 input).
const std::map<std::string, std::pair<int64_t, double>> kPaper = {{"fpn", {41127962, 216.30}},
                                                                  {"pafpn", {44668442, 242.33}},
                                                                  {"hrfpn", {41717274, 274.24}},
                                                                  {"mhfpn", {44799770, 291.36}}};

}  // namespace

int stats_command(const Args& args) {
  ArgParser parser(
      "stats",
      "Counts a config's parameters (all, and trainable as mmdetection reports them) and\n"
      "its GFLOPs as multiply-adds the way mmdetection 2.x's get_flops counts them:\n"
      "convolutions and linear layers with bias, BatchNorm, ReLU and pooling modules,\n"
      "the RoI head on a fixed number of proposals. The input is padded to the size\n"
      "divisor as the pipeline pads it.\n\n"
      "example: mbmd stats --config mbmdnet_r50_mhfpn --set model.num_classes=2");
  parser.option("config", "config file or name under configs/", "faster_rcnn_r50_fpn")
      .option("set", "override a config key: key=value", "", true)
      .option("shape", "input WIDTHxHEIGHT", "1280x800")
      .option("proposals", "RoIs given to the box head", "1000")
      .option("threads", "intra-op threads (0: all cores)", "0")
      .flag("json", "print one JSON object")
      .flag("no-flops", "count parameters only (skips the forward pass)");
  if (!parser.parse(args)) return 0;
  configure_threads(parser.get_int("threads"));
  Json config = load_config(parser.get("config"));
  apply_overrides(config, parser.get_all("set"));
  const auto options = model::detector_options_from_config(config);
  model::FasterRCNN detector(options);
  detector->eval();
  const auto params = model::count_parameters(*detector);

  auto [w, h] = parse_shape(parser.get("shape"));
  const int64_t d = options.input.size_divisor;
  const int64_t pw = (w + d - 1) / d * d, ph = (h + d - 1) / d * d;
  double gflops = -1;
  if (!parser.has("no-flops")) {
    at::NoGradGuard no_grad;
    model::FlopCountScope scope;
    detector->forward_dummy(at::zeros({1, 3, ph, pw}), parser.get_int("proposals"));
    gflops = scope.flops() / 1e9;
  }

  Json out{{"config", parser.get("config")},
           {"neck", options.neck},
           {"num_classes", options.num_classes},
           {"params_total", params.total},
           {"params_trainable", params.trainable},
           {"input", {pw, ph}},
           {"gflops", gflops}};
  const auto paper = kPaper.find(options.neck);
  if (paper != kPaper.end() && options.backbone.depth == 50) {
    out["paper_params"] = paper->second.first;
    out["paper_gflops"] = paper->second.second;
  }
  if (parser.has("json")) {
    std::cout << out.dump() << "\n";
    return 0;
  }
  std::printf("config            %s (neck %s, %lld foreground classes)\n",
              parser.get("config").c_str(), options.neck.c_str(),
              static_cast<long long>(options.num_classes));
  std::printf("parameters        %lld total, %lld trainable\n",
              static_cast<long long>(params.total), static_cast<long long>(params.trainable));
  if (gflops >= 0)
    std::printf("GFLOPs            %.2f at %lldx%lld (W x H, padded), %s proposals\n", gflops,
                static_cast<long long>(pw), static_cast<long long>(ph),
                parser.get("proposals").c_str());
  if (out.contains("paper_params"))
    std::printf("paper (2 classes) %lld trainable, %.2f GFLOPs at 1333x800\n",
                static_cast<long long>(paper->second.first), paper->second.second);
  return 0;
}

}  // namespace mbmd::cli
