// report.html pieces: base64 and escaping by hand-checked values, plots, the metrics table, the
// choice of hit and miss overlays, and a train-run report built from a hand-written log.
#include "mbmd/report/report.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "mbmd/core/error.h"
#include "mbmd/data/png.h"
#include "svg_text.h"

namespace mbmd::engine {
namespace {

namespace fs = std::filesystem;
using testing::count_of;

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

fs::path temp_dir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("mbmd_report_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(Report, Base64AndEscaping) {
  // RFC 4648, section 10.
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\xff\xfe\x00", 3)), "//4A");
  EXPECT_EQ(html_escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
}

TEST(Report, EncodedPngDecodesToThePixels) {
  const auto grey = at::arange(12, at::kFloat).view({3, 4}) * 20.0;
  const std::string bytes = encode_png(grey);
  ASSERT_GT(bytes.size(), 8u);
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
  const fs::path dir = temp_dir("png");
  std::ofstream(dir / "x.png", std::ios::binary) << bytes;
  EXPECT_TRUE(data::read_png((dir / "x.png").string()).pixels.equal(grey));
  fs::remove_all(dir);
}

TEST(Report, MetricsTableListsThePapersMetrics) {
  const Json val = {{"ap", {{"0.2", 0.5}, {"0.5", 0.25}, {"0.75", 0.125}}},
                    {"ap50_small", -1.0},
                    {"ap50_medium", 0.3},
                    {"ap50_large", 0.7},
                    {"tpr", 0.75},
                    {"fppi", 0.5},
                    {"score_thr", 0.625},
                    {"cpm", 0.4},
                    {"sensitivity_at", {{"0.125", 0.1}, {"1", 0.75}}},
                    {"num_images", 8},
                    {"num_masses", 4}};
  Json test = val;
  test["score_thr"] = nullptr;
  const ReportTable t = metrics_table("x", {"validation", "test"}, {val, test});
  ASSERT_EQ(t.header, (std::vector<std::string>{"metric", "validation", "test"}));
  ASSERT_GE(t.rows.size(), 12u);
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"AP@20", "0.5000", "0.5000"}));
  EXPECT_EQ(t.rows[1], (std::vector<std::string>{"AP@50", "0.2500", "0.2500"}));
  EXPECT_EQ(t.rows[2], (std::vector<std::string>{"AP@75", "0.1250", "0.1250"}));
  EXPECT_EQ(t.rows[3], (std::vector<std::string>{"AP@50 small", "n/a", "n/a"}));
  EXPECT_EQ(t.rows[6], (std::vector<std::string>{"TPR", "0.7500", "0.7500"}));
  EXPECT_EQ(t.rows[8], (std::vector<std::string>{"score threshold", "0.6250", "none"}));
  EXPECT_EQ(t.rows[10], (std::vector<std::string>{"sensitivity @ 0.125 FPPI", "0.1000", "0.1000"}));
  EXPECT_EQ(t.rows.back()[1], "8 (4 masses)");
  const std::string html = html_table(t);
  EXPECT_NE(html.find("<th>validation</th>"), std::string::npos);
  EXPECT_NE(html.find("<td>0.7500</td>"), std::string::npos);
}

TEST(Report, OverlaysPreferHitsAndMissesAndJudgeEachBox) {
  const fs::path dir = temp_dir("overlays");
  std::vector<data::Sample> samples;
  std::vector<model::Detections> dets;
  auto add = [&](const std::string& id, std::vector<float> gt, std::vector<float> boxes,
                 std::vector<float> scores) {
    data::Sample s;
    s.image_id = id;
    s.file = (dir / (id + ".png")).string();
    s.width = 64;
    s.height = 48;
    data::write_png(s.file, at::full({48, 64}, 100.0f), 8);
    s.boxes = at::tensor(gt, at::kFloat).view({-1, 4});
    s.labels = at::zeros({s.boxes.size(0)}, at::kLong);
    samples.push_back(s);
    model::Detections d;
    d.boxes = at::tensor(boxes, at::kFloat).view({-1, 4});
    d.scores = at::tensor(scores, at::kFloat);
    d.labels = at::zeros({d.scores.size(0)}, at::kLong);
    dets.push_back(d);
  };
  add("hit", {10, 10, 30, 30}, {11, 11, 30, 31}, {0.9f});
  add("miss", {10, 10, 20, 20, 40, 10, 60, 30}, {10, 10, 20, 20, 0, 0, 5, 5}, {0.8f, 0.7f});
  add("normal", {}, {1, 1, 9, 9, 2, 2, 8, 8}, {0.6f, 0.01f});
  add("quiet", {}, {1, 1, 9, 9}, {0.01f});  // nothing at the threshold: not a candidate

  const auto overlays = pick_overlays(samples, dets, 0.5, HitRule::kIou, 0.5, 4);
  ASSERT_EQ(overlays.size(), 3u);
  EXPECT_EQ(overlays[0].caption, "hit: 1/1 masses found, 0 false positives");
  EXPECT_EQ(overlays[1].caption, "miss: 1/2 found (miss), 1 false positive");
  EXPECT_EQ(overlays[1].found, (std::vector<bool>{true, false}));
  EXPECT_EQ(overlays[1].hits, (std::vector<bool>{true, false}));
  EXPECT_EQ(overlays[2].caption, "normal: normal film, 1 false positive");
  EXPECT_EQ(overlays[2].detections.size(), 1u);  // the 0.01 box is under the threshold
  ASSERT_TRUE(overlays[0].grey.defined());
  EXPECT_EQ(overlays[0].grey.size(1), 64);

  // Two pictures: one hit, one miss.
  const auto two = pick_overlays(samples, dets, 0.5, HitRule::kIou, 0.5, 2);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].caption.substr(0, 4), "hit:");
  EXPECT_EQ(two[1].caption.substr(0, 5), "miss:");

  const std::string svg = svg_overlay(overlays[1], 32);  // downscaled by 2
  EXPECT_NE(svg.find("width=\"32\" height=\"24\""), std::string::npos);
  EXPECT_NE(svg.find("data:image/png;base64,"), std::string::npos);
  EXPECT_EQ(count_of(svg, "<rect"), 4u);             // 2 masses, 2 detections
  EXPECT_EQ(count_of(svg, "stroke-dasharray"), 1u);  // the missed mass
  EXPECT_EQ(count_of(svg, "#ff3030"), 2u);           // false positive box and its score
  EXPECT_THROW(pick_overlays(samples, {}, 0.5, HitRule::kIou, 0.5, 2), Error);
  fs::remove_all(dir);
}

TEST(Report, TrainRunReportFromLogAndConfig) {
  const fs::path dir = temp_dir("train");
  Json config = default_config();
  config["model"]["backbone"]["depth"] = 18;
  std::ofstream(dir / "config.json") << config.dump(2);
  const Json metrics = {{"ap", {{"0.5", 0.625}}}, {"tpr", 0.5},
                        {"fppi", 0.25},           {"froc", {{0.25, 0.5}, {1.0, 0.75}}},
                        {"num_images", 4},        {"num_masses", 4}};
  std::ofstream log(dir / "log.jsonl");
  log << Json{{"type", "train"}, {"epoch", 1},          {"iter", 2},  {"lr", 0.01},
              {"loss", 2.5},     {"loss_rpn_cls", 0.7}, {"time", 0.5}}
             .dump()
      << "\n"
      << "not json\n"
      << Json{{"type", "train"}, {"epoch", 2},          {"iter", 4},       {"lr", 0.02},
              {"loss", 1.5},     {"loss_rpn_cls", 0.4}, {"elapsed", 120.0}}
             .dump()
      << "\n"
      << Json{{"type", "val"},
              {"epoch", 2},
              {"metric", "ap50"},
              {"value", 0.625},
              {"metrics", metrics}}
             .dump()
      << "\n";
  log.close();
  const TrainLog parsed = read_train_log((dir / "log.jsonl").string());
  EXPECT_EQ(parsed.steps.size(), 2u);
  EXPECT_EQ(parsed.validations.size(), 1u);
  const auto figures = training_figures(parsed);
  ASSERT_EQ(figures.size(), 3u);  // losses, learning rate, validation metric
  EXPECT_NE(figures[0].second.find(">loss_rpn_cls<"), std::string::npos);

  Report extra;
  extra.notes.push_back("note <1>");
  const std::string path = write_train_report(dir.string(), extra);
  EXPECT_EQ(path, (dir / "report.html").string());
  const std::string html = slurp(path);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<table>"), std::string::npos);
  EXPECT_NE(html.find("<td>AP@50</td><td>0.6250</td>"), std::string::npos);
  EXPECT_EQ(count_of(html, "<svg"), 4u);  // losses, lr, validation, FROC
  EXPECT_NE(html.find("ResNet-18"), std::string::npos);
  EXPECT_NE(html.find("ap50 0.6250 at epoch 2"), std::string::npos);
  EXPECT_NE(html.find("note &lt;1&gt;"), std::string::npos);
  // Readable offline: no scripts, no external pictures or style sheets.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_THROW(write_train_report((dir / "missing").string()), Error);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mbmd::engine
