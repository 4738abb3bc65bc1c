// BCS-DBT reader: the file-paths, labels and boxes CSVs joined on (PatientID, StudyUID, View), as
// duke-dbt-data's read_boxes does, turned into slice samples; slices are loaded as its
// dcmread_image shows them (laterality flip, window from the shared functional groups).
#include "mbmd/data/bcsdbt.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "mbmd/core/error.h"
#include "mbmd/core/strings.h"
#include "mbmd/data/dicom.h"

namespace mbmd::data {
namespace {

namespace fs = std::filesystem;

int parse_int(const std::string& text, const std::string& where, const std::string& column) {
  const std::string t = trim(text);
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  // Integers, also when pandas wrote them as "12.0".
  if (t.empty() || *end != '\0' || !std::isfinite(v) || v != std::floor(v) || std::abs(v) > 1e9)
    throw Error(where + ": column " + column + " holds '" + text + "', not an integer");
  return static_cast<int>(v);
}

// The reader-specific settings (DatasetOptions::extra).
struct Settings {
  int neighbours = 0;     // neighbour_slices
  int normal_slices = 1;  // -1: all
  bool drop_distortions = false;
  std::string subset;
  fs::path images_root;
};

Settings parse_settings(const DatasetOptions& options) {
  Settings settings;
  settings.images_root = options.root;
  for (const auto& [key, value] : options.extra) {
    const std::string where = "BCS-DBT option " + key + "=" + value;
    if (key == "neighbour_slices") {
      settings.neighbours = parse_int(value, where, key);
      if (settings.neighbours < 0) throw Error(where + ": must be 0 or more");
    } else if (key == "normal_slices") {
      settings.normal_slices = lower(value) == "all" ? -1 : parse_int(value, where, key);
      if (settings.normal_slices < -1) throw Error(where + ": must be 0 or more, or 'all'");
    } else if (key == "distortions") {
      if (value != "keep" && value != "drop") throw Error(where + ": must be 'keep' or 'drop'");
      settings.drop_distortions = value == "drop";
    } else if (key == "subset") {
      settings.subset = value;
    } else if (key == "images") {
      settings.images_root = value;
    } else {
      throw Error("BCS-DBT: unknown option '" + key +
                  "' (known: neighbour_slices, normal_slices, distortions, subset, images)");
    }
  }
  return settings;
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

// One row of a BCS-DBT table, its fields by column name.
class Row {
 public:
  Row(const CsvTable& table, size_t r, const std::string& where)
      : table_(table), fields_(table.rows[r]), where_(where) {}

  const std::string& where() const { return where_; }
  std::string text(const char* column) const { return trim(raw(column)); }
  int integer(const char* column) const { return parse_int(raw(column), where_, column); }
  // The volume the row is about, as the file-paths table keys it, and as written.
  std::string volume_key() const {
    return key_of(text("PatientID"), text("StudyUID"), lower(text("View")));
  }
  std::string volume_name() const {
    return text("PatientID") + " " + text("StudyUID") + " " + text("View");
  }

 private:
  const std::string& raw(const char* column) const { return fields_[table_.column(column)]; }

  const CsvTable& table_;
  const std::vector<std::string>& fields_;
  const std::string& where_;
};

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

// Which slices of a volume become samples, decided before its file is read.
struct Selection {
  std::vector<const Box*> boxes;  // the boxes of selected classes
  bool lesion = false;            // benign, cancer or boxed
  bool wanted = false;            // at least one slice becomes a sample
  std::string excluded;           // why the protocol leaves the volume out, if it does
};

class BcsdbtReader {
 public:
  explicit BcsdbtReader(const DatasetOptions& options)
      : options_(options), settings_(parse_settings(options)), root_(options.root) {}

  Dataset read() {
    if (!fs::is_directory(root_)) throw Error(options_.root + ": not a folder (BCS-DBT root)");
    set_classes();
    const auto parts = find_parts(root_, settings_.subset);
    if (parts.empty())
      throw Error(options_.root + ": no 'BCS-DBT file-paths*.csv'" +
                  (settings_.subset.empty() ? std::string()
                                            : " matching subset '" + settings_.subset + "'"));
    for (const auto& part : parts) read_part(part);
    for (const auto& [key, volume] : volumes_) add_volume(key, volume);
    return std::move(dataset_);
  }

 private:
  // The selected classes, checked, and the dataset's categories.
  void set_classes() {
    classes_ =
        options_.classes.empty() ? std::vector<std::string>{"benign", "cancer"} : options_.classes;
    for (const auto& c : classes_)
      if (lower(c) != "benign" && lower(c) != "cancer")
        throw Error("BCS-DBT: class '" + c + "' is not one of benign, cancer");
    dataset_.name = "bcsdbt";
    dataset_.root = options_.root;
    if (options_.separate_classes) {
      for (const auto& c : classes_) dataset_.categories.push_back(lower(c));
    } else {
      dataset_.categories = {"mass"};
    }
  }

  // The label of a box's class, -1 when the class is not selected.
  int label_of(const std::string& cls) const {
    for (size_t i = 0; i < classes_.size(); ++i)
      if (lower(classes_[i]) == lower(trim(cls)))
        return options_.separate_classes ? static_cast<int>(i) : 0;
    return -1;
  }

  template <typename ReadRow>
  void read_rows(const fs::path& csv, const std::vector<std::string>& columns, ReadRow&& read_row) {
    const CsvTable table = read_csv(csv.string(), ',', columns);
    for_each_row(table, options_.skip_bad, dataset_.skipped,
                 [&](size_t r, const std::string& where) { read_row(Row(table, r, where)); });
  }

  void read_part(const std::string& part) {
    const fs::path paths_csv = root_ / ("BCS-DBT file-paths" + part + ".csv");
    const fs::path labels_csv = root_ / ("BCS-DBT labels" + part + ".csv");
    const fs::path boxes_csv = root_ / ("BCS-DBT boxes" + part + ".csv");
    for (const auto& p : {labels_csv, boxes_csv})
      if (!fs::exists(p))
        throw Error(p.string() + ": missing (it belongs with " + paths_csv.filename().string() +
                    ")");
    const std::string paths_name = paths_csv.filename().string();
    read_rows(paths_csv, {"PatientID", "StudyUID", "View", "descriptive_path", "classic_path"},
              [&](const Row& row) { add_file_paths(row); });
    read_rows(labels_csv,
              {"PatientID", "StudyUID", "View", "Normal", "Actionable", "Benign", "Cancer"},
              [&](const Row& row) { add_labels(row, paths_name); });
    read_rows(boxes_csv,
              {"PatientID", "StudyUID", "View", "Slice", "X", "Y", "Width", "Height", "Class", "AD",
               "VolumeSlices"},
              [&](const Row& row) { add_box(row, paths_name); });
  }

  void add_file_paths(const Row& row) {
    Volume v;
    v.patient = row.text("PatientID");
    v.study = row.text("StudyUID");
    v.view = lower(row.text("View"));
    v.descriptive_path = row.text("descriptive_path");
    v.classic_path = row.text("classic_path");
    v.where = row.where();
    const char side = v.view.empty() ? '?' : v.view[0];
    if (v.patient.empty() || v.study.empty() || (side != 'l' && side != 'r'))
      throw Error(row.where() +
                  ": needs PatientID, StudyUID and a View starting with l or r (got '" + v.view +
                  "')");
    const auto [it, fresh] = volumes_.emplace(key_of(v.patient, v.study, v.view), v);
    if (!fresh) throw Error(row.where() + ": the same volume is listed at " + it->second.where);
  }

  void add_labels(const Row& row, const std::string& paths_name) {
    const auto it = volumes_.find(row.volume_key());
    if (it == volumes_.end())
      throw Error(row.where() + ": labels for " + row.volume_name() + ", a volume not in " +
                  paths_name);
    Volume& v = it->second;
    v.has_labels = true;
    v.normal = row.integer("Normal") != 0;
    v.actionable = row.integer("Actionable") != 0;
    v.benign = row.integer("Benign") != 0;
    v.cancer = row.integer("Cancer") != 0;
  }

  void add_box(const Row& row, const std::string& paths_name) {
    const std::string key = row.volume_key();
    if (!volumes_.count(key))
      throw Error(row.where() + ": box for " + row.volume_name() + ", a volume not in " +
                  paths_name);
    const std::string cls = lower(row.text("Class"));
    if (cls != "benign" && cls != "cancer")
      throw Error(row.where() + ": Class '" + row.text("Class") + "' is not benign or cancer");
    Box box;
    box.where = row.where();
    box.slice = row.integer("Slice");
    const int x = row.integer("X"), y = row.integer("Y");
    const int w = row.integer("Width"), h = row.integer("Height");
    box.volume_slices = row.integer("VolumeSlices");
    if (w <= 0 || h <= 0)
      throw Error(row.where() + ": box " + std::to_string(w) + "x" + std::to_string(h) +
                  " has no area");
    box.x1 = static_cast<float>(x);
    box.y1 = static_cast<float>(y);
    box.x2 = static_cast<float>(x + w);
    box.y2 = static_cast<float>(y + h);
    box.label = label_of(cls);
    const bool distortion = row.integer("AD") != 0;
    // Unselected classes and dropped distortions still mark the volume as holding a lesion.
    if (settings_.drop_distortions && distortion) box.label = -1;
    boxes_[key].push_back(box);
  }

  // The samples of one volume, or why the protocol leaves it out; a bad volume is an error or,
  // with skip_bad, skipped.
  void add_volume(const std::string& key, const Volume& volume) {
    const std::string volume_id = volume.patient + "_" + volume.study + "_" + volume.view;
    std::vector<Sample> made;
    std::string excluded;
    const bool ok = run_or_skip(options_.skip_bad, volume.where, dataset_.skipped, [&] {
      if (!volume.has_labels)
        throw Error(volume.where + ": volume " + volume_id + " has no row in the labels CSV");
      const auto found = boxes_.find(key);
      const Selection selection = select(volume, found == boxes_.end() ? no_boxes_ : found->second);
      excluded = selection.excluded;
      if (selection.wanted) made = slice_samples(volume, volume_id, selection);
    });
    if (!ok) return;
    if (!excluded.empty()) dataset_.excluded.push_back({volume_id, excluded});
    for (auto& s : made) dataset_.samples.push_back(std::move(s));
  }

  Selection select(const Volume& volume, const std::vector<Box>& boxes) const {
    Selection s;
    for (const Box& b : boxes)
      if (b.label >= 0) s.boxes.push_back(&b);
    s.lesion = volume.benign || volume.cancer || !boxes.empty();
    if (s.lesion && s.boxes.empty() && !boxes.empty()) return s;  // only unselected lesions
    if (!s.lesion && !volume.normal) {
      s.excluded = "actionable without a located lesion: neither normal nor annotated";
      return s;
    }
    if (!s.lesion && (options_.masses_only || settings_.normal_slices == 0)) return s;
    if (s.lesion && s.boxes.empty() && !options_.keep_unlocated) {
      s.excluded = "benign or cancer volume without boxes: lesion at an unknown place";
      return s;
    }
    s.wanted = true;
    return s;
  }

  // The volume's DICOM file: descriptive_path first, then classic_path.
  fs::path volume_file(const Volume& volume, const std::string& volume_id) const {
    const fs::path& images = settings_.images_root;
    if (!volume.descriptive_path.empty() && fs::exists(images / volume.descriptive_path))
      return images / volume.descriptive_path;
    if (!volume.classic_path.empty() && fs::exists(images / volume.classic_path))
      return images / volume.classic_path;
    throw Error(volume.where + ": volume " + volume_id + " not found (neither " +
                (images / volume.descriptive_path).string() + " nor " +
                (images / volume.classic_path).string() + ")");
  }

  std::vector<Sample> slice_samples(const Volume& volume, const std::string& volume_id,
                                    const Selection& selection) const {
    const fs::path file = volume_file(volume, volume_id);
    const DicomImage info = read_dicom_info(file.string());
    for (const Box* b : selection.boxes) check_box(*b, info, file.string());
    std::vector<Sample> samples;
    for (const auto& [slice, in_slice] : slices_of(selection, info.frames)) {
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
      sample.slice_display = "bcsdbt";  // load_bcsdbt_sample_slice, the frame the boxes are in
      sample.lesion_without_location = selection.lesion && selection.boxes.empty();
      std::vector<float> xyxy;
      std::vector<int64_t> labels;
      for (const Box* b : in_slice) {
        xyxy.insert(xyxy.end(), {b->x1, b->y1, b->x2, b->y2});
        labels.push_back(b->label);
      }
      set_boxes(sample, xyxy, labels);
      samples.push_back(std::move(sample));
    }
    return samples;
  }

  static void check_box(const Box& b, const DicomImage& info, const std::string& file) {
    if (b.slice < 0 || b.slice >= info.frames)
      throw Error(b.where + ": slice " + std::to_string(b.slice) + " outside the " +
                  std::to_string(info.frames) + " slices of " + file);
    if (b.volume_slices != info.frames)
      throw Error(b.where + ": VolumeSlices " + std::to_string(b.volume_slices) + " but " + file +
                  " has " + std::to_string(info.frames) + " frames");
    if (b.x1 < 0 || b.y1 < 0 || b.x2 > info.cols || b.y2 > info.rows)
      throw Error(b.where + ": box [" + std::to_string(b.x1) + ", " + std::to_string(b.y1) + ", " +
                  std::to_string(b.x2) + ", " + std::to_string(b.y2) + "] lies outside the " +
                  std::to_string(info.cols) + "x" + std::to_string(info.rows) + " slices of " +
                  file);
  }

  // Slice -> the boxes it shows: the centre slice of each box and `neighbours` on each side;
  // the central slice of a lesion without boxes; normal_slices evenly spaced slices of a normal
  // volume.
  std::map<int, std::vector<const Box*>> slices_of(const Selection& selection, int frames) const {
    std::map<int, std::vector<const Box*>> slices;
    const int n = settings_.neighbours, normal = settings_.normal_slices;
    if (!selection.boxes.empty()) {
      for (const Box* b : selection.boxes)
        for (int s = std::max(0, b->slice - n); s <= std::min(frames - 1, b->slice + n); ++s)
          slices[s].push_back(b);
    } else if (selection.lesion) {
      slices[frames / 2];  // flagged, central slice
    } else if (normal < 0 || normal >= frames) {
      for (int s = 0; s < frames; ++s) slices[s];
    } else if (normal == 1) {
      slices[frames / 2];
    } else {
      for (int i = 0; i < normal; ++i)
        slices[static_cast<int>(std::lround(i * (frames - 1.0) / (normal - 1)))];
    }
    return slices;
  }

  const DatasetOptions& options_;
  const Settings settings_;
  const fs::path root_;
  std::vector<std::string> classes_;
  Dataset dataset_;
  std::map<std::string, Volume> volumes_;
  std::map<std::string, std::vector<Box>> boxes_;
  const std::vector<Box> no_boxes_;
};

}  // namespace

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

at::Tensor load_bcsdbt_sample_slice(const Sample& sample) {
  return load_bcsdbt_slice(sample.file, sample.frame, sample.laterality);
}

Dataset read_bcsdbt(const DatasetOptions& options) { return BcsdbtReader(options).read(); }

}  // namespace mbmd::data
