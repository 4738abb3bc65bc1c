#include "mbmd/report/report.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "mbmd/core/atomic_file.h"
#include "mbmd/core/error.h"
#include "mbmd/core/strings.h"
#include "mbmd/data/dataset.h"
#include "mbmd/data/image_io.h"
#include "mbmd/data/png.h"

namespace mbmd::engine {
namespace fs = std::filesystem;
namespace {

std::string fixed(double value, int decimals = 4) {
  if (!std::isfinite(value)) return value > 0 ? "inf" : "n/a";
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot be read");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool detection_hits(const Box& d, const Box& g, HitRule hit, double hit_iou) {
  if (hit == HitRule::kCenter) {
    const double cx = 0.5 * (d[0] + d[2]), cy = 0.5 * (d[1] + d[3]);
    return cx >= g[0] && cx <= g[2] && cy >= g[1] && cy <= g[3];
  }
  return box_iou(d, g) >= hit_iou;
}

std::vector<Box> boxes_of(const at::Tensor& t) {
  std::vector<Box> out;
  if (!t.defined() || t.numel() == 0) return out;
  const auto b = t.to(at::kDouble).reshape({-1, 4}).contiguous();
  const auto a = b.accessor<double, 2>();
  for (int64_t i = 0; i < b.size(0); ++i) out.push_back({a[i][0], a[i][1], a[i][2], a[i][3]});
  return out;
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string base64_encode(const std::string& bytes) {
  static const char* const table =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint32_t(uint8_t(bytes[i])) << 16) |
                       (uint32_t(uint8_t(bytes[i + 1])) << 8) | uint32_t(uint8_t(bytes[i + 2]));
    out += table[v >> 18];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += table[v & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += table[v >> 18];
    out += table[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? table[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string encode_png(const at::Tensor& grey) {
  static std::atomic<int> counter{0};
  const fs::path path = fs::temp_directory_path() / ("mbmd_report_" + std::to_string(::getpid()) +
                                                     "_" + std::to_string(counter++) + ".png");
  data::write_png(path.string(), grey, 8);
  std::string bytes;
  try {
    bytes = read_file_bytes(path.string());
  } catch (...) {
    fs::remove(path);
    throw;
  }
  fs::remove(path);
  return bytes;
}

std::string html_table(const ReportTable& table) {
  std::ostringstream out;
  if (!table.title.empty()) out << "<h3>" << html_escape(table.title) << "</h3>\n";
  out << "<table>\n<tr>";
  for (const auto& h : table.header) out << "<th>" << html_escape(h) << "</th>";
  out << "</tr>\n";
  for (const auto& row : table.rows) {
    out << "<tr>";
    for (const auto& cell : row) out << "<td>" << html_escape(cell) << "</td>";
    out << "</tr>\n";
  }
  out << "</table>\n";
  return out.str();
}

std::string svg_overlay(const ReportOverlay& overlay, int max_side) {
  if (!overlay.grey.defined() || overlay.grey.dim() != 2)
    throw Error("svg_overlay: the image must be a [H, W] tensor");
  const int64_t H = overlay.grey.size(0), W = overlay.grey.size(1);
  const double scale = std::min(1.0, static_cast<double>(max_side) / std::max(H, W));
  const int64_t h = std::max<int64_t>(1, std::llround(H * scale));
  const int64_t w = std::max<int64_t>(1, std::llround(W * scale));
  at::Tensor small = overlay.grey.to(at::kFloat);
  if (h != H || w != W)  // area averaging: no aliasing on fine texture
    small = at::adaptive_avg_pool2d(small.view({1, 1, H, W}), {h, w}).view({h, w});
  const double sx = static_cast<double>(w) / W, sy = static_cast<double>(h) / H;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" "
         "width=\""
      << w << "\" height=\"" << h << "\" viewBox=\"0 0 " << w << " " << h
      << "\" font-family=\"sans-serif\" font-size=\"10\">";
  svg << "<image width=\"" << w << "\" height=\"" << h << "\" xlink:href=\"data:image/png;base64,"
      << base64_encode(encode_png(small)) << "\"/>";
  auto rect = [&](const Box& b, const char* colour, bool dashed) {
    svg << "<rect x=\"" << b[0] * sx << "\" y=\"" << b[1] * sy << "\" width=\""
        << (b[2] - b[0]) * sx << "\" height=\"" << (b[3] - b[1]) * sy
        << "\" fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"1.5\""
        << (dashed ? " stroke-dasharray=\"4 3\"" : "") << "/>";
  };
  for (size_t i = 0; i < overlay.ground_truth.size(); ++i) {
    const bool found = i < overlay.found.size() && overlay.found[i];
    rect(overlay.ground_truth[i], found ? "#2ca02c" : "#ffdd00", !found);
  }
  for (size_t i = 0; i < overlay.detections.size(); ++i) {
    const auto& [box, score] = overlay.detections[i];
    const bool hit = i < overlay.hits.size() && overlay.hits[i];
    const char* colour = hit ? "#3b8bff" : "#ff3030";
    rect(box, colour, false);
    svg << "<text x=\"" << box[0] * sx << "\" y=\"" << std::max(9.0, box[1] * sy - 2)
        << "\" fill=\"" << colour << "\">" << fixed(score, 2) << "</text>";
  }
  svg << "</svg>";
  return svg.str();
}

std::vector<ReportOverlay> pick_overlays(const std::vector<data::Sample>& samples,
                                         const std::vector<model::Detections>& detections,
                                         double score_thr, HitRule hit, double hit_iou, int count) {
  if (samples.size() != detections.size())
    throw Error("pick_overlays: " + std::to_string(samples.size()) + " samples but " +
                std::to_string(detections.size()) + " detection lists");
  std::vector<ReportOverlay> judged(samples.size());
  std::vector<size_t> all_found, missed, normal_fp;
  for (size_t i = 0; i < samples.size(); ++i) {
    ReportOverlay& o = judged[i];
    o.ground_truth = boxes_of(samples[i].boxes);
    o.found.assign(o.ground_truth.size(), false);
    const auto boxes = boxes_of(detections[i].boxes);
    std::vector<double> scores;
    if (detections[i].scores.defined() && detections[i].scores.numel() > 0) {
      const auto s = detections[i].scores.to(at::kDouble).contiguous();
      scores.assign(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());
    }
    std::vector<size_t> order(boxes.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    for (size_t k : order) {
      if (scores[k] < score_thr) continue;
      bool any = false;
      for (size_t g = 0; g < o.ground_truth.size(); ++g)
        if (detection_hits(boxes[k], o.ground_truth[g], hit, hit_iou)) {
          any = true;
          o.found[g] = true;
        }
      o.detections.push_back({boxes[k], scores[k]});
      o.hits.push_back(any);
    }
    const bool every = std::all_of(o.found.begin(), o.found.end(), [](bool f) { return f; });
    if (o.ground_truth.empty()) {
      if (!o.detections.empty()) normal_fp.push_back(i);
    } else {
      (every ? all_found : missed).push_back(i);
    }
  }
  count = std::max(0, count);
  std::vector<size_t> chosen;
  const size_t want_normal = count >= 3 && !normal_fp.empty() ? 1 : 0;
  const size_t want_missed = std::min(missed.size(), static_cast<size_t>(count / 2));
  const size_t want_found =
      std::min(all_found.size(), static_cast<size_t>(count) - want_missed - want_normal);
  chosen.insert(chosen.end(), all_found.begin(), all_found.begin() + want_found);
  size_t extra_missed = static_cast<size_t>(count) - want_found - want_normal;
  extra_missed = std::min(missed.size(), extra_missed);
  chosen.insert(chosen.end(), missed.begin(), missed.begin() + extra_missed);
  if (want_normal && chosen.size() < static_cast<size_t>(count)) chosen.push_back(normal_fp[0]);

  std::vector<ReportOverlay> out;
  for (size_t i : chosen) {
    data::Sample sample = samples[i];
    data::load_sample_image(sample);
    ReportOverlay o = std::move(judged[i]);
    o.grey = sample.image;
    const size_t found = static_cast<size_t>(std::count(o.found.begin(), o.found.end(), true));
    const size_t fp = static_cast<size_t>(std::count(o.hits.begin(), o.hits.end(), false));
    o.caption = sample.image_id + ": " +
                (o.ground_truth.empty()
                     ? std::string("normal film")
                     : std::to_string(found) + "/" + std::to_string(o.ground_truth.size()) +
                           (found == o.ground_truth.size() ? " masses found" : " found (miss)")) +
                ", " + std::to_string(fp) + " false positive" + (fp == 1 ? "" : "s");
    out.push_back(std::move(o));
  }
  return out;
}

std::string render_html(const Report& report) {
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>"
       << html_escape(report.title) << "</title>\n<style>\n"
       << "body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}\n"
       << "table{border-collapse:collapse;margin:6px 0 18px}\n"
       << "th,td{border:1px solid #bbb;padding:3px 9px;text-align:right}\n"
       << "th:first-child,td:first-child{text-align:left}\nth{background:#f0f0f0}\n"
       << "dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px}\n"
       << "dt{font-weight:bold}dd{margin:0}\n"
       << ".figs{display:flex;flex-wrap:wrap;gap:14px}\n"
       << "figure{margin:0}figcaption{font-size:12px;color:#555;max-width:320px}\n"
       << ".legend span{margin-right:14px}\n</style></head><body>\n";
  html << "<h1>" << html_escape(report.title) << "</h1>\n";
  if (!report.facts.empty()) {
    html << "<dl>\n";
    for (const auto& [k, v] : report.facts)
      html << "<dt>" << html_escape(k) << "</dt><dd>" << html_escape(v) << "</dd>\n";
    html << "</dl>\n";
  }
  if (!report.tables.empty()) {
    html << "<h2>Metrics</h2>\n";
    for (const auto& t : report.tables) html << html_table(t);
  }
  if (!report.figures.empty()) {
    html << "<h2>Curves</h2>\n<div class=\"figs\">\n";
    for (const auto& [caption, svg] : report.figures)
      html << "<figure>" << svg << "<figcaption>" << html_escape(caption)
           << "</figcaption></figure>\n";
    html << "</div>\n";
  }
  if (!report.overlays.empty()) {
    html << "<h2>Detections</h2>\n<p class=\"legend\"><span style=\"color:#2ca02c\">&#9632; mass "
            "found</span><span style=\"color:#c8a800\">&#9632; mass missed (dashed)</span>"
            "<span style=\"color:#3b8bff\">&#9632; detection on a mass</span>"
            "<span style=\"color:#ff3030\">&#9632; false positive</span></p>\n"
            "<div class=\"figs\">\n";
    for (const auto& o : report.overlays)
      html << "<figure>" << svg_overlay(o) << "<figcaption>" << html_escape(o.caption)
           << "</figcaption></figure>\n";
    html << "</div>\n";
  }
  for (const auto& note : report.notes) html << "<p>" << html_escape(note) << "</p>\n";
  html << "</body></html>\n";
  return html.str();
}

void write_report(const std::string& path, const Report& report) {
  write_file_atomic(path, render_html(report));
}

ReportTable metrics_table(const std::string& title, const std::vector<std::string>& columns,
                          const std::vector<Json>& metrics) {
  ReportTable table;
  table.title = title;
  table.header.push_back("metric");
  for (const auto& c : columns) table.header.push_back(c);
  auto value_text = [](const Json& v) {
    if (v.is_null()) return std::string("none");
    if (!v.is_number()) return std::string("n/a");
    const double d = v.get<double>();
    return d < 0 ? std::string("n/a") : fixed(d);
  };
  auto add_row = [&](const std::string& name, auto&& get) {
    std::vector<std::string> row{name};
    for (const auto& m : metrics) row.push_back(value_text(get(m)));
    table.rows.push_back(std::move(row));
  };
  // One row per key of a keyed section ("ap": {"0.5": ..}), in numeric order of the keys.
  auto add_keyed_rows = [&](const std::string& section, const Json& missing,
                            const std::function<std::string(double)>& row_name) {
    std::map<double, std::string> keys;
    for (const auto& m : metrics)
      if (m.contains(section) && m[section].is_object())
        for (const auto& [key, value] : m[section].items()) keys[std::stod(key)] = key;
    for (const auto& [number_value, key] : keys)
      add_row(row_name(number_value), [&](const Json& m) {
        return m.contains(section) && m[section].contains(key) ? m[section][key] : missing;
      });
  };
  add_keyed_rows("ap", Json(), [](double thr) { return "AP@" + significant_text(thr * 100, 3); });
  for (const auto& [key, name] :
       std::vector<std::pair<std::string, std::string>>{{"ap50_small", "AP@50 small"},
                                                        {"ap50_medium", "AP@50 medium"},
                                                        {"ap50_large", "AP@50 large"},
                                                        {"tpr", "TPR"},
                                                        {"fppi", "FPPI"},
                                                        {"score_thr", "score threshold"},
                                                        {"cpm", "CPM"}}) {
    const std::string k = key;
    add_row(name, [&](const Json& m) { return m.contains(k) ? m[k] : Json("n/a"); });
  }
  add_keyed_rows("sensitivity_at", Json("n/a"),
                 [](double f) { return "sensitivity @ " + significant_text(f, 3) + " FPPI"; });
  std::vector<std::string> counts{"images"};
  for (const auto& m : metrics)
    counts.push_back(std::to_string(m.value("num_images", 0)) + " (" +
                     std::to_string(m.value("num_masses", 0)) + " masses)");
  table.rows.push_back(counts);
  return table;
}

void add_checkpoint_evaluation(Report& report, const std::string& table_title,
                               const std::string& froc_caption, const Json& val_metrics,
                               const Json& test_metrics) {
  std::vector<std::string> columns;
  std::vector<Json> metrics;
  if (!val_metrics.is_null()) {
    columns.push_back("validation");
    metrics.push_back(val_metrics);
  }
  columns.push_back("test");
  metrics.push_back(test_metrics);
  report.tables.push_back(metrics_table(table_title, columns, metrics));
  std::vector<PlotSeries> curves;
  for (size_t i = 0; i < metrics.size(); ++i) curves.push_back(froc_series(columns[i], metrics[i]));
  report.figures.push_back({engine::froc_caption(froc_caption, curves), froc_plot(curves)});
}

std::string write_train_report(const std::string& work_dir, const Report& extra) {
  const fs::path dir(work_dir);
  if (!fs::is_directory(dir)) throw Error("report: " + work_dir + " is not a folder");
  Report r;
  r.title = extra.title.empty() ? "mbmd training run: " + dir.filename().string() : extra.title;
  const fs::path config_path = dir / "config.json";
  if (fs::exists(config_path)) {
    const Json config = Json::parse(read_file_bytes(config_path.string()), nullptr, false);
    auto get = [&](const std::string& key) -> std::string {
      try {
        const Json& v = config_at(config, key);
        return v.is_string() ? v.get<std::string>() : v.dump();
      } catch (const Error&) {
        return "?";
      }
    };
    if (!config.is_discarded()) {
      r.facts.push_back({"model", "ResNet-" + get("model.backbone.depth") + " + " +
                                      get("model.neck.type") + " neck, " +
                                      get("model.num_classes") + " class(es)"});
      r.facts.push_back({"input scale", get("input.scale")});
      r.facts.push_back({"data", get("data.dataset") + " " + get("data.ann_file") +
                                     get("data.root") + " (split " + get("data.split") +
                                     ", permutation " + get("data.permutation") + ")"});
      r.facts.push_back({"schedule", get("train.epochs") + " epochs, batch " +
                                         get("train.batch_size") + ", lr " + get("train.lr") +
                                         " (" + get("train.schedule") + " " + get("train.steps") +
                                         ")"});
    }
  }
  const TrainLog log = read_train_log((dir / "log.jsonl").string());
  if (!log.steps.empty()) {
    const Json& last = log.steps.back();
    r.facts.push_back({"training", std::to_string(last.value("iter", 0)) + " iterations, " +
                                       std::to_string(last.value("epoch", 0)) + " epochs, " +
                                       fixed(last.value("elapsed", 0.0) / 60.0, 1) + " min"});
  }
  if (!log.validations.empty()) {
    const Json* best = &log.validations.front();
    for (const auto& v : log.validations)
      if (v.value("value", -1.0) > best->value("value", -1.0)) best = &v;
    r.facts.push_back({"best validation", best->value("metric", "") + " " +
                                              fixed(best->value("value", -1.0)) + " at epoch " +
                                              std::to_string(best->value("epoch", 0))});
    const Json& last = log.validations.back();
    r.tables.push_back(metrics_table("Validation, epoch " + std::to_string(last.value("epoch", 0)),
                                     {"validation"}, {last.value("metrics", Json::object())}));
  }
  r.facts.insert(r.facts.end(), extra.facts.begin(), extra.facts.end());
  r.tables.insert(r.tables.end(), extra.tables.begin(), extra.tables.end());
  r.figures = training_figures(log);
  if (!log.validations.empty()) {
    r.figures.push_back(
        {"FROC on the validation part at the last validation.",
         froc_plot({froc_series("validation", log.validations.back().value("metrics", Json()))},
                   "FROC (validation, last epoch)")});
  }
  r.figures.insert(r.figures.end(), extra.figures.begin(), extra.figures.end());
  r.overlays = extra.overlays;
  r.notes = extra.notes;
  const std::string path = (dir / "report.html").string();
  write_report(path, r);
  return path;
}

}  // namespace mbmd::engine
