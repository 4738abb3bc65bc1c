// BCS-DBT reader: the file-paths, labels and boxes CSVs joined on (PatientID, StudyUID, View), as
// duke-dbt-data's read_boxes does, turned into slice samples; slices are loaded as its
// dcmread_image shows them (laterality flip, window from the shared functional groups).
#include "mbmd/data/bcsdbt.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "mbmd/core/error.h"
#include "mbmd/data/dicom.h"

namespace mbmd::data {
namespace {

namespace fs = std::filesystem;

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

int parse_int(const std::string& text, const std::string& where, const std::string& column) {
  const std::string t = trim(text);
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  // Integers, also when pandas wrote them as "12.0".
  if (t.empty() || *end != '\0' || !std::isfinite(v) || v != std::floor(v) || std::abs(v) > 1e9)
    throw Error(where + ": column " + column + " holds '" + text + "', not an integer");
  return static_cast<int>(v);
}

struct Volume {
  std::string patient, study, view;  // view as written: "lcc", "rmlo", ...
  std::string descriptive_path, classic_path;
  std::string where;  // file-paths CSV and line
  bool has_labels = false;
  bool normal = false, actionable = false, benign = false, cancer = false;
};

struct Box {
  int slice = 0;
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  int label = 0;
  int volume_slices = 0;
  std::string where;
};

std::string key_of(const std::string& patient, const std::string& study, const std::string& view) {
  return patient + "\x1f" + study + "\x1f" + view;
}

// "BCS-DBT file-paths-train-v2.csv" -> "-train-v2"; the other two tables of a part share it.
std::vector<std::string> find_parts(const fs::path& root, const std::string& subset) {
  const std::string prefix = "BCS-DBT file-paths";
  std::vector<std::string> parts;
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || name.rfind(prefix, 0) != 0 ||
        lower(entry.path().extension().string()) != ".csv")
      continue;
    const std::string part = name.substr(prefix.size(), name.size() - prefix.size() - 4);
    if (subset.empty() || part.find(subset) != std::string::npos) parts.push_back(part);
  }
  std::sort(parts.begin(), parts.end());
  return parts;
}

}  // namespace

size_t CsvTable::column(const std::string& name) const {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return i;
  std::string have;
  for (const auto& h : header) have += (have.empty() ? "" : ", ") + h;
  throw Error(file + ": column '" + name + "' is missing (columns: " + have + ")");
}

CsvTable read_csv(const std::string& path, char delimiter,
                  const std::vector<std::string>& required) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the CSV file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);

  CsvTable table;
  table.file = path;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false, any = false;
  int line = 1, record_line = 1;
  auto end_record = [&] {
    record.push_back(field);
    field.clear();
    const bool blank = record.size() == 1 && trim(record[0]).empty() && !any;
    if (!blank) {
      if (table.header.empty()) {
        for (auto& h : record) table.header.push_back(trim(h));
      } else {
        // Trailing empty fields (a delimiter at the end of the line) do not count.
        while (record.size() > table.header.size() && trim(record.back()).empty())
          record.pop_back();
        if (record.size() != table.header.size())
          throw Error(path + ":" + std::to_string(record_line) + ": " +
                      std::to_string(record.size()) + " fields, the header has " +
                      std::to_string(table.header.size()));
        table.rows.push_back(record);
        table.lines.push_back(record_line);
      }
    }
    record.clear();
    any = false;
    record_line = line;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && trim(field).empty()) {
      quoted = true;
      any = true;
      field.clear();
    } else if (c == delimiter) {
      record.push_back(field);
      field.clear();
      any = true;
    } else if (c == '\n') {
      ++line;
      end_record();
    } else if (c != '\r') {
      field += c;
    }
  }
  if (quoted) throw Error(path + ":" + std::to_string(record_line) + ": unterminated quoted field");
  if (!field.empty() || !record.empty()) end_record();
  if (table.header.empty()) throw Error(path + ": empty CSV file (no header)");
  for (const auto& name : required) table.column(name);
  return table;
}

std::string bcsdbt_image_laterality(const at::Tensor& frame) {
  if (frame.dim() != 2 || frame.size(1) == 0)
    throw Error("bcsdbt_image_laterality: expected a non-empty [H, W] frame");
  const double left = frame.select(1, 0).sum(at::kDouble).item<double>();
  const double right = frame.select(1, frame.size(1) - 1).sum(at::kDouble).item<double>();
  return left < right ? "R" : "L";
}

at::Tensor load_bcsdbt_slice(const std::string& file, int frame,
                             const std::string& view_laterality) {
  DicomOptions raw;
  raw.frame = frame;
  raw.modality_only = true;
  const DicomImage image = read_dicom(file, raw);
  at::Tensor values = image.pixels;
  const std::string side = upper(view_laterality);
  if ((side == "L" || side == "R") && bcsdbt_image_laterality(values) != side)
    values = values.flip({0, 1});
  DicomOptions window;
  window.window_function = WindowFunction::linear_exact;  // skimage rescale_intensity(c +- w/2)
  return apply_voi(values, image, window);
}

Dataset read_bcsdbt(const DatasetOptions& options) {
  int neighbours = 0;
  int normal_slices = 1;  // -1: all
  bool drop_distortions = false;
  std::string subset;
  fs::path images_root(options.root);
  for (const auto& [key, value] : options.extra) {
    const std::string where = "BCS-DBT option " + key + "=" + value;
    if (key == "neighbour_slices") {
      neighbours = parse_int(value, where, key);
      if (neighbours < 0) throw Error(where + ": must be 0 or more");
    } else if (key == "normal_slices") {
      normal_slices = lower(value) == "all" ? -1 : parse_int(value, where, key);
      if (normal_slices < -1) throw Error(where + ": must be 0 or more, or 'all'");
    } else if (key == "distortions") {
      if (value != "keep" && value != "drop") throw Error(where + ": must be 'keep' or 'drop'");
      drop_distortions = value == "drop";
    } else if (key == "subset") {
      subset = value;
    } else if (key == "images") {
      images_root = value;
    } else {
      throw Error("BCS-DBT: unknown option '" + key +
                  "' (known: neighbour_slices, normal_slices, distortions, subset, images)");
    }
  }
  const fs::path root(options.root);
  if (!fs::is_directory(root)) throw Error(options.root + ": not a folder (BCS-DBT root)");

  const std::vector<std::string> classes =
      options.classes.empty() ? std::vector<std::string>{"benign", "cancer"} : options.classes;
  for (const auto& c : classes)
    if (lower(c) != "benign" && lower(c) != "cancer")
      throw Error("BCS-DBT: class '" + c + "' is not one of benign, cancer");
  Dataset dataset;
  dataset.name = "bcsdbt";
  dataset.root = options.root;
  if (options.separate_classes) {
    for (const auto& c : classes) dataset.categories.push_back(lower(c));
  } else {
    dataset.categories = {"mass"};
  }
  auto label_of = [&](const std::string& cls) -> int {
    for (size_t i = 0; i < classes.size(); ++i)
      if (lower(classes[i]) == lower(trim(cls)))
        return options.separate_classes ? static_cast<int>(i) : 0;
    return -1;
  };

  const auto parts = find_parts(root, subset);
  if (parts.empty())
    throw Error(options.root + ": no 'BCS-DBT file-paths*.csv'" +
                (subset.empty() ? std::string() : " matching subset '" + subset + "'"));

  std::map<std::string, Volume> volumes;
  std::map<std::string, std::vector<Box>> boxes;
  for (const auto& part : parts) {
    const fs::path paths_csv = root / ("BCS-DBT file-paths" + part + ".csv");
    const fs::path labels_csv = root / ("BCS-DBT labels" + part + ".csv");
    const fs::path boxes_csv = root / ("BCS-DBT boxes" + part + ".csv");
    for (const auto& p : {labels_csv, boxes_csv})
      if (!fs::exists(p))
        throw Error(p.string() + ": missing (it belongs with " + paths_csv.filename().string() +
                    ")");

    const CsvTable paths =
        read_csv(paths_csv.string(), ',',
                 {"PatientID", "StudyUID", "View", "descriptive_path", "classic_path"});
    const size_t pp = paths.column("PatientID"), ps = paths.column("StudyUID"),
                 pv = paths.column("View"), pd = paths.column("descriptive_path"),
                 pc = paths.column("classic_path");
    for (size_t r = 0; r < paths.rows.size(); ++r) {
      const auto& row = paths.rows[r];
      const std::string where = paths.file + ":" + std::to_string(paths.lines[r]);
      run_or_skip(options.skip_bad, where, dataset.skipped, [&] {
        Volume v;
        v.patient = trim(row[pp]);
        v.study = trim(row[ps]);
        v.view = lower(trim(row[pv]));
        v.descriptive_path = trim(row[pd]);
        v.classic_path = trim(row[pc]);
        v.where = where;
        const char side = v.view.empty() ? '?' : v.view[0];
        if (v.patient.empty() || v.study.empty() || (side != 'l' && side != 'r'))
          throw Error(where + ": needs PatientID, StudyUID and a View starting with l or r (got '" +
                      v.view + "')");
        const auto [it, fresh] = volumes.emplace(key_of(v.patient, v.study, v.view), v);
        if (!fresh) throw Error(where + ": the same volume is listed at " + it->second.where);
      });
    }

    const CsvTable labels =
        read_csv(labels_csv.string(), ',',
                 {"PatientID", "StudyUID", "View", "Normal", "Actionable", "Benign", "Cancer"});
    const size_t lp = labels.column("PatientID"), ls = labels.column("StudyUID"),
                 lv = labels.column("View"), ln = labels.column("Normal"),
                 la = labels.column("Actionable"), lb = labels.column("Benign"),
                 lc = labels.column("Cancer");
    for (size_t r = 0; r < labels.rows.size(); ++r) {
      const auto& row = labels.rows[r];
      const std::string where = labels.file + ":" + std::to_string(labels.lines[r]);
      run_or_skip(options.skip_bad, where, dataset.skipped, [&] {
        const auto it = volumes.find(key_of(trim(row[lp]), trim(row[ls]), lower(trim(row[lv]))));
        if (it == volumes.end())
          throw Error(where + ": labels for " + trim(row[lp]) + " " + trim(row[ls]) + " " +
                      trim(row[lv]) + ", a volume not in " + paths_csv.filename().string());
        Volume& v = it->second;
        v.has_labels = true;
        v.normal = parse_int(row[ln], where, "Normal") != 0;
        v.actionable = parse_int(row[la], where, "Actionable") != 0;
        v.benign = parse_int(row[lb], where, "Benign") != 0;
        v.cancer = parse_int(row[lc], where, "Cancer") != 0;
      });
    }

    const CsvTable table = read_csv(boxes_csv.string(), ',',
                                    {"PatientID", "StudyUID", "View", "Slice", "X", "Y", "Width",
                                     "Height", "Class", "AD", "VolumeSlices"});
    const size_t bp = table.column("PatientID"), bs = table.column("StudyUID"),
                 bv = table.column("View"), bsl = table.column("Slice"), bx = table.column("X"),
                 by = table.column("Y"), bw = table.column("Width"), bh = table.column("Height"),
                 bc = table.column("Class"), bad = table.column("AD"),
                 bvs = table.column("VolumeSlices");
    for (size_t r = 0; r < table.rows.size(); ++r) {
      const auto& row = table.rows[r];
      const std::string where = table.file + ":" + std::to_string(table.lines[r]);
      run_or_skip(options.skip_bad, where, dataset.skipped, [&] {
        const std::string key = key_of(trim(row[bp]), trim(row[bs]), lower(trim(row[bv])));
        if (!volumes.count(key))
          throw Error(where + ": box for " + trim(row[bp]) + " " + trim(row[bs]) + " " +
                      trim(row[bv]) + ", a volume not in " + paths_csv.filename().string());
        const std::string cls = lower(trim(row[bc]));
        if (cls != "benign" && cls != "cancer")
          throw Error(where + ": Class '" + trim(row[bc]) + "' is not benign or cancer");
        Box box;
        box.where = where;
        box.slice = parse_int(row[bsl], where, "Slice");
        const int x = parse_int(row[bx], where, "X"), y = parse_int(row[by], where, "Y");
        const int w = parse_int(row[bw], where, "Width"), h = parse_int(row[bh], where, "Height");
        box.volume_slices = parse_int(row[bvs], where, "VolumeSlices");
        if (w <= 0 || h <= 0)
          throw Error(where + ": box " + std::to_string(w) + "x" + std::to_string(h) +
                      " has no area");
        box.x1 = static_cast<float>(x);
        box.y1 = static_cast<float>(y);
        box.x2 = static_cast<float>(x + w);
        box.y2 = static_cast<float>(y + h);
        box.label = label_of(cls);
        const bool distortion = parse_int(row[bad], where, "AD") != 0;
        // Unselected classes and dropped distortions still mark the volume as holding a lesion.
        if (drop_distortions && distortion) box.label = -1;
        boxes[key].push_back(box);
      });
    }
  }

  for (const auto& [key, volume] : volumes) {
    const std::string volume_id = volume.patient + "_" + volume.study + "_" + volume.view;
    std::vector<Sample> made;
    std::string excluded;
    const bool ok = run_or_skip(options.skip_bad, volume.where, dataset.skipped, [&] {
      if (!volume.has_labels)
        throw Error(volume.where + ": volume " + volume_id + " has no row in the labels CSV");
      const auto found = boxes.find(key);
      const std::vector<Box> no_boxes;
      const std::vector<Box>& vboxes = found == boxes.end() ? no_boxes : found->second;
      std::vector<const Box*> selected;
      for (const Box& b : vboxes)
        if (b.label >= 0) selected.push_back(&b);
      const bool lesion = volume.benign || volume.cancer || !vboxes.empty();
      if (lesion && selected.empty() && !vboxes.empty()) return;  // only unselected lesions
      if (!lesion && !volume.normal) {
        excluded = "actionable without a located lesion: neither normal nor annotated";
        return;
      }
      if (!lesion && (options.masses_only || normal_slices == 0)) return;
      if (lesion && selected.empty() && !options.keep_unlocated) {
        excluded = "benign or cancer volume without boxes: lesion at an unknown place";
        return;
      }

      fs::path file;
      if (!volume.descriptive_path.empty() && fs::exists(images_root / volume.descriptive_path))
        file = images_root / volume.descriptive_path;
      else if (!volume.classic_path.empty() && fs::exists(images_root / volume.classic_path))
        file = images_root / volume.classic_path;
      else
        throw Error(volume.where + ": volume " + volume_id + " not found (neither " +
                    (images_root / volume.descriptive_path).string() + " nor " +
                    (images_root / volume.classic_path).string() + ")");
      const DicomImage info = read_dicom_info(file.string());

      std::map<int, std::vector<const Box*>> slices;
      if (!selected.empty()) {
        for (const Box* b : selected) {
          if (b->slice < 0 || b->slice >= info.frames)
            throw Error(b->where + ": slice " + std::to_string(b->slice) + " outside the " +
                        std::to_string(info.frames) + " slices of " + file.string());
          if (b->volume_slices != info.frames)
            throw Error(b->where + ": VolumeSlices " + std::to_string(b->volume_slices) + " but " +
                        file.string() + " has " + std::to_string(info.frames) + " frames");
          if (b->x1 < 0 || b->y1 < 0 || b->x2 > info.cols || b->y2 > info.rows)
            throw Error(b->where + ": box [" + std::to_string(b->x1) + ", " +
                        std::to_string(b->y1) + ", " + std::to_string(b->x2) + ", " +
                        std::to_string(b->y2) + "] lies outside the " + std::to_string(info.cols) +
                        "x" + std::to_string(info.rows) + " slices of " + file.string());
          for (int s = std::max(0, b->slice - neighbours);
               s <= std::min(info.frames - 1, b->slice + neighbours); ++s)
            slices[s].push_back(b);
        }
      } else if (lesion) {
        slices[info.frames / 2];  // flagged, central slice
      } else if (normal_slices < 0 || normal_slices >= info.frames) {
        for (int s = 0; s < info.frames; ++s) slices[s];
      } else if (normal_slices == 1) {
        slices[info.frames / 2];
      } else {
        for (int i = 0; i < normal_slices; ++i)
          slices[static_cast<int>(std::lround(i * (info.frames - 1.0) / (normal_slices - 1)))];
      }

      for (const auto& [slice, in_slice] : slices) {
        Sample sample;
        sample.image_id = volume_id + "_" + std::to_string(slice);
        sample.file = file.string();
        sample.patient_id = volume.patient;
        sample.laterality = volume.view[0] == 'l' ? "L" : "R";
        sample.view = upper(volume.view.substr(1));
        sample.width = info.cols;
        sample.height = info.rows;
        sample.bit_depth = info.bits_stored;
        sample.frame = slice;
        sample.lesion_without_location = lesion && selected.empty();
        const auto n = static_cast<int64_t>(in_slice.size());
        sample.boxes = at::empty({n, 4}, at::kFloat);
        sample.labels = at::empty({n}, at::kLong);
        float* b = sample.boxes.data_ptr<float>();
        int64_t* l = sample.labels.data_ptr<int64_t>();
        for (int64_t i = 0; i < n; ++i) {
          b[4 * i + 0] = in_slice[i]->x1;
          b[4 * i + 1] = in_slice[i]->y1;
          b[4 * i + 2] = in_slice[i]->x2;
          b[4 * i + 3] = in_slice[i]->y2;
          l[i] = in_slice[i]->label;
        }
        made.push_back(std::move(sample));
      }
    });
    if (!ok) continue;
    if (!excluded.empty()) dataset.excluded.push_back({volume_id, excluded});
    for (auto& s : made) dataset.samples.push_back(std::move(s));
  }
  return dataset;
}

}  // namespace mbmd::data
