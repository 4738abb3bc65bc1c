// INbreast reader: films from AllDICOMs/ (patient, laterality and view from the file name), mass
// contours from AllXML/ (Apple plist), INbreast.csv checked against both.
#include "mbmd/data/inbreast.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "mbmd/core/error.h"
#include "mbmd/data/bcsdbt.h"
#include "mbmd/data/dicom.h"
#include "mbmd/data/plist.h"

namespace mbmd::data {
namespace {

namespace fs = std::filesystem;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos == std::string::npos ? pos : pos - start));
    if (pos == std::string::npos) return parts;
    start = pos + 1;
  }
}

bool all_digits(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

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

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

// The CSV's view words as the file names and samples spell them.
std::string normalise_view(const std::string& v) {
  const std::string u = upper(trim(v));
  return u == "ML" ? "MLO" : u;
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

  const std::vector<std::string> classes =
      options.classes.empty() ? std::vector<std::string>{"Mass"} : options.classes;
  Dataset dataset;
  dataset.name = "inbreast";
  dataset.root = options.root;
  if (options.separate_classes)
    dataset.categories = classes;
  else
    dataset.categories = {classes.size() == 1 && lower(classes[0]) == "mass" ? "mass"
                                                                             : join(classes, "+")};
  auto label_of = [&](const std::string& roi_name) -> int {
    for (size_t i = 0; i < classes.size(); ++i)
      if (lower(trim(classes[i])) == lower(roi_name))
        return options.separate_classes ? static_cast<int>(i) : 0;
    return -1;
  };

  // Films, by image id.
  std::map<std::string, std::pair<fs::path, InbreastFileName>> films;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dicom_dir))
    if (entry.is_regular_file() && lower(entry.path().extension().string()) == ".dcm")
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    run_or_skip(options.skip_bad, file.string(), dataset.skipped, [&] {
      InbreastFileName name = parse_inbreast_file_name(file.string());
      const auto [it, fresh] = films.emplace(name.image_id, std::make_pair(file, name));
      if (!fresh)
        throw Error(file.string() + ": image id " + name.image_id + " is also the id of " +
                    it->second.first.string());
    });
  }
  if (films.empty() && dataset.skipped.empty())
    throw Error(dicom_dir.string() + ": no .dcm files (the INbreast films)");

  // INbreast.csv: every row must name a film, and agree with its file name.
  const fs::path csv_path = root / "INbreast.csv";
  if (fs::exists(csv_path)) {
    const CsvTable csv = read_csv(csv_path.string(), ';', {"Laterality", "View", "File Name"});
    const size_t lat = csv.column("Laterality"), view = csv.column("View"),
                 name = csv.column("File Name");
    for (size_t r = 0; r < csv.rows.size(); ++r) {
      const std::string where = csv.file + ":" + std::to_string(csv.lines[r]);
      run_or_skip(options.skip_bad, where, dataset.skipped, [&] {
        const std::string id = trim(csv.rows[r][name]);
        const auto film = films.find(id);
        if (film == films.end())
          throw Error(where + ": File Name '" + id + "' has no film in " + dicom_dir.string());
        const InbreastFileName& fn = film->second.second;
        if (upper(trim(csv.rows[r][lat])) != fn.laterality ||
            normalise_view(csv.rows[r][view]) != fn.view)
          throw Error(where + ": laterality/view '" + trim(csv.rows[r][lat]) + "/" +
                      trim(csv.rows[r][view]) + "' disagree with the file name " +
                      film->second.first.filename().string());
      });
    }
  }

  // XML files must belong to films.
  if (fs::is_directory(xml_dir)) {
    std::vector<fs::path> xmls;
    for (const auto& entry : fs::directory_iterator(xml_dir))
      if (entry.is_regular_file() && lower(entry.path().extension().string()) == ".xml")
        xmls.push_back(entry.path());
    std::sort(xmls.begin(), xmls.end());
    for (const auto& xml : xmls)
      run_or_skip(options.skip_bad, xml.string(), dataset.skipped, [&] {
        if (!films.count(xml.stem().string()))
          throw Error(xml.string() + ": annotations for image " + xml.stem().string() +
                      ", which has no film in " + dicom_dir.string());
      });
  }

  for (const auto& [id, film] : films) {
    const auto& [file, fn] = film;
    Sample sample;
    const bool ok = run_or_skip(options.skip_bad, file.string(), dataset.skipped, [&] {
      const DicomImage info = read_dicom_info(file.string());
      sample.image_id = id;
      sample.file = file.string();
      sample.patient_id = fn.patient_id;
      sample.laterality = fn.laterality;
      sample.view = fn.view;
      sample.width = info.cols;
      sample.height = info.rows;
      sample.bit_depth = info.bits_stored;
      if (info.frames != 1)
        throw Error(file.string() + ": " + std::to_string(info.frames) +
                    " frames; an INbreast film has one");
      std::vector<float> boxes;
      std::vector<int64_t> labels;
      const fs::path xml = xml_dir / (id + ".xml");
      if (fs::exists(xml)) {
        for (const InbreastRoi& roi : read_inbreast_rois(xml.string())) {
          const int label = label_of(roi.name);
          if (label < 0) continue;
          const std::string where = xml.string() + ":" + std::to_string(roi.line);
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
          boxes.insert(boxes.end(), {static_cast<float>(x1), static_cast<float>(y1),
                                     static_cast<float>(x2), static_cast<float>(y2)});
          labels.push_back(label);
        }
      }
      const auto n = static_cast<int64_t>(labels.size());
      sample.boxes = at::empty({n, 4}, at::kFloat);
      sample.labels = at::empty({n}, at::kLong);
      std::copy(boxes.begin(), boxes.end(), sample.boxes.data_ptr<float>());
      std::copy(labels.begin(), labels.end(), sample.labels.data_ptr<int64_t>());
    });
    if (!ok) continue;
    if (options.masses_only && sample.labels.numel() == 0) continue;
    dataset.samples.push_back(std::move(sample));
  }
  return dataset;
}

}  // namespace mbmd::data
