// INbreast reader: films from AllDICOMs/ (patient, laterality and view from the file name), mass
// contours from AllXML/ (Apple plist), INbreast.csv checked against both.
#include "mbmd/data/inbreast.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "mbmd/core/error.h"
#include "mbmd/core/strings.h"
#include "mbmd/data/csv.h"
#include "mbmd/data/dicom.h"
#include "mbmd/data/plist.h"

namespace mbmd::data {
namespace {

namespace fs = std::filesystem;

// "(2353.000000, 1302.000000)" -> (2353, 1302).
std::pair<double, double> parse_point(const std::string& text, const std::string& where) {
  std::string t = trim(text);
  if (t.size() < 5 || t.front() != '(' || t.back() != ')')
    throw Error(where + ": point '" + text + "' is not \"(x, y)\"");
  const auto parts = split(t.substr(1, t.size() - 2), ',');
  if (parts.size() != 2) throw Error(where + ": point '" + text + "' is not \"(x, y)\"");
  double xy[2];
  for (int i = 0; i < 2; ++i) {
    const std::string p = trim(parts[i]);
    char* end = nullptr;
    xy[i] = std::strtod(p.c_str(), &end);
    if (p.empty() || *end != '\0' || !std::isfinite(xy[i]))
      throw Error(where + ": point '" + text + "' has a coordinate that is not a number");
  }
  return {xy[0], xy[1]};
}

// The CSV's view words as the file names and samples spell them.
std::string normalise_view(const std::string& v) {
  const std::string u = upper(trim(v));
  return u == "ML" ? "MLO" : u;
}

// The files in `dir` whose extension is `extension` in any case, sorted.
std::vector<fs::path> files_with_extension(const fs::path& dir, const std::string& extension) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && lower(entry.path().extension().string()) == extension)
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

// A film of AllDICOMs/ and what its file name says.
struct Film {
  fs::path file;
  InbreastFileName name;
};

// The films by image id; a bad name or a repeated id is an error or, with skip_bad, skipped.
std::map<std::string, Film> index_films(const fs::path& dicom_dir, const DatasetOptions& options,
                                        Dataset& dataset) {
  std::map<std::string, Film> films;
  for (const auto& file : files_with_extension(dicom_dir, ".dcm")) {
    run_or_skip(options.skip_bad, file.string(), dataset.skipped, [&] {
      InbreastFileName name = parse_inbreast_file_name(file.string());
      const auto [it, fresh] = films.emplace(name.image_id, Film{file, name});
      if (!fresh)
        throw Error(file.string() + ": image id " + name.image_id + " is also the id of " +
                    it->second.file.string());
    });
  }
  if (films.empty() && dataset.skipped.empty())
    throw Error(dicom_dir.string() + ": no .dcm files (the INbreast films)");
  return films;
}

// INbreast.csv, when present: every row must name a film, and agree with its file name.
void check_csv(const fs::path& csv_path, const std::map<std::string, Film>& films,
               const fs::path& dicom_dir, const DatasetOptions& options, Dataset& dataset) {
  if (!fs::exists(csv_path)) return;
  const CsvTable csv = read_csv(csv_path.string(), ';', {"Laterality", "View", "File Name"});
  const size_t lat = csv.column("Laterality"), view = csv.column("View"),
               name = csv.column("File Name");
  for_each_row(csv, options.skip_bad, dataset.skipped, [&](size_t r, const std::string& where) {
    const std::string id = trim(csv.rows[r][name]);
    const auto film = films.find(id);
    if (film == films.end())
      throw Error(where + ": File Name '" + id + "' has no film in " + dicom_dir.string());
    const InbreastFileName& fn = film->second.name;
    if (upper(trim(csv.rows[r][lat])) != fn.laterality ||
        normalise_view(csv.rows[r][view]) != fn.view)
      throw Error(where + ": laterality/view '" + trim(csv.rows[r][lat]) + "/" +
                  trim(csv.rows[r][view]) + "' disagree with the file name " +
                  film->second.file.filename().string());
  });
}

// AllXML/, when present: every XML file must belong to a film.
void check_xml_files(const fs::path& xml_dir, const std::map<std::string, Film>& films,
                     const fs::path& dicom_dir, const DatasetOptions& options, Dataset& dataset) {
  if (!fs::is_directory(xml_dir)) return;
  for (const auto& xml : files_with_extension(xml_dir, ".xml"))
    run_or_skip(options.skip_bad, xml.string(), dataset.skipped, [&] {
      if (!films.count(xml.stem().string()))
        throw Error(xml.string() + ": annotations for image " + xml.stem().string() +
                    ", which has no film in " + dicom_dir.string());
    });
}

// The selected ROI names, as labels.
struct RoiClasses {
  std::vector<std::string> names;
  bool separate = false;

  // The label of an ROI name (case-insensitive), -1 when it is not selected.
  int label_of(const std::string& roi_name) const {
    for (size_t i = 0; i < names.size(); ++i)
      if (lower(trim(names[i])) == lower(roi_name)) return separate ? static_cast<int>(i) : 0;
    return -1;
  }
};

// The bounding box of an ROI's contour, which must lie in the film.
std::array<float, 4> roi_box(const InbreastRoi& roi, const std::string& where,
                             const DicomImage& info, const fs::path& file) {
  if (roi.points.empty()) throw Error(where + ": ROI '" + roi.name + "' has no points");
  double x1 = roi.points[0].first, x2 = x1, y1 = roi.points[0].second, y2 = y1;
  for (const auto& [x, y] : roi.points) {
    x1 = std::min(x1, x);
    x2 = std::max(x2, x);
    y1 = std::min(y1, y);
    y2 = std::max(y2, y);
  }
  // A point annotation (INbreast marks calcifications with one point) covers its pixel.
  if (x2 <= x1) x2 = x1 + 1;
  if (y2 <= y1) y2 = y1 + 1;
  if (x1 < 0 || y1 < 0 || x2 > info.cols || y2 > info.rows)
    throw Error(where + ": ROI '" + roi.name + "' box [" + std::to_string(x1) + ", " +
                std::to_string(y1) + ", " + std::to_string(x2) + ", " + std::to_string(y2) +
                "] lies outside the " + std::to_string(info.cols) + "x" +
                std::to_string(info.rows) + " image " + file.filename().string());
  return {static_cast<float>(x1), static_cast<float>(y1), static_cast<float>(x2),
          static_cast<float>(y2)};
}

// A film's sample, with a box for each ROI of a selected class in AllXML/<id>.xml.
Sample film_sample(const std::string& id, const Film& film, const fs::path& xml_dir,
                   const RoiClasses& classes) {
  const DicomImage info = read_dicom_info(film.file.string());
  Sample sample;
  sample.image_id = id;
  sample.file = film.file.string();
  sample.patient_id = film.name.patient_id;
  sample.laterality = film.name.laterality;
  sample.view = film.name.view;
  sample.width = info.cols;
  sample.height = info.rows;
  sample.bit_depth = info.bits_stored;
  if (info.frames != 1)
    throw Error(film.file.string() + ": " + std::to_string(info.frames) +
                " frames; an INbreast film has one");
  std::vector<float> boxes;
  std::vector<int64_t> labels;
  const fs::path xml = xml_dir / (id + ".xml");
  if (fs::exists(xml)) {
    for (const InbreastRoi& roi : read_inbreast_rois(xml.string())) {
      const int label = classes.label_of(roi.name);
      if (label < 0) continue;
      const std::string where = xml.string() + ":" + std::to_string(roi.line);
      const auto box = roi_box(roi, where, info, film.file);
      boxes.insert(boxes.end(), box.begin(), box.end());
      labels.push_back(label);
    }
  }
  set_boxes(sample, boxes, labels);
  return sample;
}

}  // namespace

InbreastFileName parse_inbreast_file_name(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  const std::string stem = fs::path(name).stem().string();
  const auto parts = split(stem, '_');
  // NNNNNNNN _ hash _ MG _ L|R _ CC|ML _ ANON
  const bool ok =
      lower(fs::path(name).extension().string()) == ".dcm" && parts.size() == 6 &&
      all_digits(parts[0]) && !parts[1].empty() && upper(parts[2]) == "MG" &&
      (upper(parts[3]) == "L" || upper(parts[3]) == "R") &&
      (upper(parts[4]) == "CC" || upper(parts[4]) == "ML" || upper(parts[4]) == "MLO") &&
      upper(parts[5]) == "ANON";
  if (!ok)
    throw Error(path +
                ": INbreast file name is not NNNNNNNN_<patienthash>_MG_<L|R>_<CC|ML>_ANON.dcm");
  InbreastFileName out;
  out.image_id = parts[0];
  out.patient_id = parts[1];
  out.laterality = upper(parts[3]);
  // INbreast's "ML" films are mediolateral oblique views (INbreast.csv says MLO).
  out.view = normalise_view(parts[4]);
  return out;
}

std::vector<InbreastRoi> read_inbreast_rois(const std::string& xml_path) {
  const PlistValue root = read_plist(xml_path);
  std::vector<InbreastRoi> rois;
  for (const PlistValue& image : root.at("Images").as_array()) {
    const PlistValue* list = image.find("ROIs");
    if (!list) continue;  // an image entry without ROIs annotates nothing
    for (const PlistValue& roi : list->as_array()) {
      InbreastRoi out;
      out.line = roi.line;
      out.name = trim(roi.at("Name").as_string());
      const std::string where = xml_path + ":" + std::to_string(roi.line);
      for (const PlistValue& point : roi.at("Point_px").as_array())
        out.points.push_back(parse_point(point.as_string(), where));
      rois.push_back(std::move(out));
    }
  }
  return rois;
}

Dataset read_inbreast(const DatasetOptions& options) {
  for (const auto& [key, value] : options.extra)
    throw Error("INbreast: unknown option '" + key + "' (the reader takes none)");
  const fs::path root(options.root);
  if (!fs::is_directory(root)) throw Error(options.root + ": not a folder (INbreast root)");
  const fs::path dicom_dir = root / "AllDICOMs";
  const fs::path xml_dir = root / "AllXML";
  if (!fs::is_directory(dicom_dir))
    throw Error(options.root + ": no AllDICOMs folder (the INbreast films)");

  RoiClasses classes;
  classes.names = options.classes.empty() ? std::vector<std::string>{"Mass"} : options.classes;
  classes.separate = options.separate_classes;
  Dataset dataset;
  dataset.name = "inbreast";
  dataset.root = options.root;
  if (classes.separate)
    dataset.categories = classes.names;
  else
    dataset.categories = {classes.names.size() == 1 && lower(classes.names[0]) == "mass"
                              ? "mass"
                              : join(classes.names, "+")};

  const auto films = index_films(dicom_dir, options, dataset);
  check_csv(root / "INbreast.csv", films, dicom_dir, options, dataset);
  check_xml_files(xml_dir, films, dicom_dir, options, dataset);
  for (const auto& [id, film] : films) {
    Sample sample;
    const bool ok = run_or_skip(
        options.skip_bad, film.file.string(), dataset.skipped,
        // clang before 16 cannot capture structured bindings.
        [&, &id = id, &film = film] { sample = film_sample(id, film, xml_dir, classes); });
    if (!ok) continue;
    if (options.masses_only && sample.labels.numel() == 0) continue;
    dataset.samples.push_back(std::move(sample));
  }
  return dataset;
}

}  // namespace mbmd::data
