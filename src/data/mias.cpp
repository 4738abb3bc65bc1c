#include "mbmd/data/mias.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "mbmd/core/error.h"
#include "mbmd/core/strings.h"
#include "mbmd/data/image_io.h"

namespace mbmd::data {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string>& known_classes() {
  static const std::vector<std::string> classes = {"CALC", "CIRC", "SPIC", "MISC",
                                                   "ARCH", "ASYM", "NORM"};
  return classes;
}

bool is_refnum(const std::string& token) {
  return token.size() == 6 && token.compare(0, 3, "mdb") == 0 && all_digits(token.substr(3));
}

int parse_int(const std::string& token, const std::string& where, const char* what) {
  std::size_t used = 0;
  int value = 0;
  try {
    value = std::stoi(token, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != token.size() || token.empty())
    throw Error(where + ": " + what + " '" + token + "' is not an integer");
  return value;
}

MiasRow parse_row(const std::vector<std::string>& t, const std::string& where) {
  MiasRow row;
  if (!is_refnum(t[0])) throw Error(where + ": reference '" + t[0] + "' is not mdbNNN");
  row.refnum = t[0];
  if (t.size() < 3) throw Error(where + ": a row needs at least REFNUM BG CLASS");
  if (t[1].size() != 1 || std::string("FGD").find(t[1][0]) == std::string::npos)
    throw Error(where + ": background tissue '" + t[1] + "' is not F, G or D");
  row.background = t[1][0];
  const auto& classes = known_classes();
  if (std::find(classes.begin(), classes.end(), t[2]) == classes.end())
    throw Error(where + ": class '" + t[2] + "' is not one of " + join(classes, " "));
  row.lesion = t[2];
  if (row.lesion == "NORM") {
    if (t.size() != 3) throw Error(where + ": a NORM row has extra fields");
    return row;
  }
  if (t.size() >= 4) {
    if (t[3] != "B" && t[3] != "M") throw Error(where + ": severity '" + t[3] + "' is not B or M");
    row.severity = t[3][0];
  }
  if (t.size() <= 4) return row;  // lesion present, place unknown (mdb059)
  if (t[4].rfind("*NOTE", 0) == 0) {
    // "*NOTE 3*": calcifications spread over the breast, no centre or radius (Info.txt note 4).
    return row;
  }
  if (t.size() != 7)
    throw Error(where + ": expected REFNUM BG CLASS SEVERITY X Y RADIUS, found " +
                std::to_string(t.size()) + " fields");
  row.x = parse_int(t[4], where, "X");
  row.y = parse_int(t[5], where, "Y");
  row.radius = parse_int(t[6], where, "radius");
  if (row.radius <= 0) throw Error(where + ": radius " + t[6] + " must be positive");
  row.has_location = true;
  return row;
}

fs::path find_film(const fs::path& root, const std::string& refnum) {
  for (const char* ext : {".pgm", ".png", ".PGM", ".PNG"}) {
    const fs::path candidate = root / (refnum + ext);
    if (fs::exists(candidate)) return candidate;
  }
  return {};
}

// Info.txt, in the spellings the distributions use.
fs::path find_info_file(const DatasetOptions& options) {
  for (const char* name : {"Info.txt", "info.txt", "INFO.TXT"})
    if (fs::exists(fs::path(options.root) / name)) return fs::path(options.root) / name;
  throw Error(options.root + ": no Info.txt (the mini-MIAS annotations)");
}

// The selected classes (default the masses), each a known lesion class.
std::vector<std::string> selected_classes(const DatasetOptions& options) {
  const std::vector<std::string> classes =
      options.classes.empty() ? mias_mass_classes() : options.classes;
  const auto& known = known_classes();
  for (const auto& c : classes)
    if (c == "NORM" || std::find(known.begin(), known.end(), c) == known.end())
      throw Error("mini-MIAS: class '" + c + "' is not one of CALC CIRC SPIC MISC ARCH ASYM");
  return classes;
}

// A film's sample, with a box for each located lesion of a selected class; a selected lesion
// without a location flags the sample.
Sample film_sample(const std::string& refnum, const std::vector<MiasRow>& rows,
                   const fs::path& info_path, const std::vector<std::string>& classes,
                   const DatasetOptions& options) {
  const fs::path file = find_film(options.root, refnum);
  if (file.empty())
    throw Error(info_path.string() + ":" + std::to_string(rows.front().line) + " annotates " +
                refnum + " but neither " + refnum + ".pgm nor " + refnum + ".png is in " +
                options.root);
  const ImageInfo info = read_image_info(file.string());
  Sample sample;
  sample.image_id = refnum;
  sample.file = file.string();
  sample.patient_id = mias_patient_id(refnum);
  sample.view = "MLO";  // every mini-MIAS film is a mediolateral oblique view
  sample.width = info.width;
  sample.height = info.height;
  sample.bit_depth = info.bit_depth;
  std::vector<float> boxes;
  std::vector<int64_t> labels;
  for (const auto& row : rows) {
    const auto selected = std::find(classes.begin(), classes.end(), row.lesion);
    if (selected == classes.end()) continue;
    if (!row.has_location) {
      sample.lesion_without_location = true;
      continue;
    }
    const auto box = mias_box(row, info.width, info.height);
    boxes.insert(boxes.end(), box.begin(), box.end());
    labels.push_back(options.separate_classes ? selected - classes.begin() : 0);
  }
  set_boxes(sample, boxes, labels);
  return sample;
}

}  // namespace

const std::vector<std::string>& mias_mass_classes() {
  static const std::vector<std::string> classes = {"CIRC", "SPIC", "MISC"};
  return classes;
}

std::vector<MiasRow> parse_mias_info(const std::string& path, bool skip_bad,
                                     std::vector<SkippedItem>* skipped) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open the mini-MIAS annotation file");
  std::vector<MiasRow> rows;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    // Rows are the lines that start with "mdb"; everything else is the free text around them.
    if (line.rfind("mdb", 0) != 0) continue;
    std::istringstream fields(line);
    std::vector<std::string> tokens;
    for (std::string token; fields >> token;) tokens.push_back(token);
    const std::string where = path + ":" + std::to_string(number);
    try {
      MiasRow row = parse_row(tokens, where);
      row.line = number;
      rows.push_back(row);
    } catch (const Error& e) {
      if (!skip_bad || !skipped) throw;
      skipped->push_back({where, e.what()});
    }
  }
  if (rows.empty() && (!skipped || skipped->empty()))
    throw Error(path + ": no rows (lines starting with 'mdb') found");
  return rows;
}

std::string mias_patient_id(const std::string& refnum) {
  if (!is_refnum(refnum)) throw Error("mini-MIAS reference '" + refnum + "' is not mdbNNN");
  const int film = std::stoi(refnum.substr(3));
  char id[16];
  std::snprintf(id, sizeof(id), "p%03d", (film + 1) / 2);
  return id;
}

std::vector<float> mias_box(const MiasRow& row, int width, int height) {
  // Info.txt measures Y from the bottom-left corner; pixel rows count from the top.
  const int cx = row.x;
  const int cy = (height - 1) - row.y;
  if (cx < 0 || cx >= width || cy < 0 || cy >= height)
    throw Error(row.refnum + " (Info.txt line " + std::to_string(row.line) + "): centre (" +
                std::to_string(row.x) + ", " + std::to_string(row.y) + ") lies outside the " +
                std::to_string(width) + "x" + std::to_string(height) + " image");
  const auto clip = [](int v, int hi) { return static_cast<float>(std::clamp(v, 0, hi)); };
  return {clip(cx - row.radius, width - 1), clip(cy - row.radius, height - 1),
          clip(cx + row.radius, width - 1), clip(cy + row.radius, height - 1)};
}

Dataset read_mias(const DatasetOptions& options) {
  for (const auto& [key, value] : options.extra)
    throw Error("mini-MIAS: unknown option '" + key + "' (the reader takes none)");
  if (!fs::is_directory(options.root))
    throw Error(options.root + ": not a folder (mini-MIAS root)");
  const fs::path info_path = find_info_file(options);
  const std::vector<std::string> classes = selected_classes(options);
  Dataset dataset;
  dataset.name = "mias";
  dataset.root = options.root;
  if (options.separate_classes)
    dataset.categories = classes;
  else
    dataset.categories = {classes == mias_mass_classes() ? "mass" : join(classes, "+")};

  const std::vector<MiasRow> rows =
      parse_mias_info(info_path.string(), options.skip_bad, &dataset.skipped);
  // Rows of one film are grouped; films in reference order.
  std::map<std::string, std::vector<MiasRow>> films;
  for (const auto& row : rows) films[row.refnum].push_back(row);

  for (const auto& [refnum, film_rows] : films) {
    Sample sample;
    // clang before 16 cannot capture structured bindings (the fuzz build uses clang).
    const bool ok = run_or_skip(
        options.skip_bad, refnum, dataset.skipped, [&, &refnum = refnum, &film_rows = film_rows] {
          sample = film_sample(refnum, film_rows, info_path, classes, options);
        });
    if (!ok) continue;
    if (sample.lesion_without_location && !options.keep_unlocated) {
      dataset.excluded.push_back(
          {refnum,
           "a lesion of a selected class without a location: left out of training and "
           "evaluation"});
      continue;
    }
    if (options.masses_only && sample.labels.numel() == 0) continue;
    dataset.samples.push_back(std::move(sample));
  }
  return dataset;
}

}  // namespace mbmd::data
