// mini-MIAS as distributed: Info.txt (free text, then one row per lesion or normal film, the lines
// that start with "mdb": REFNUM BG CLASS [SEVERITY [X Y RADIUS]]) and the films mdbNNN.pgm or
// mdbNNN.png. See docs/design.md, "Datasets".
#pragma once

#include <string>
#include <vector>

#include "mbmd/data/dataset.h"

namespace mbmd::data {

// The classes that are masses: the default selection.
const std::vector<std::string>& mias_mass_classes();

// One row of Info.txt.
struct MiasRow {
  std::string refnum;   // "mdb001"
  char background = 0;  // F, G or D
  std::string lesion;   // CALC CIRC SPIC MISC ARCH ASYM NORM
  char severity = 0;    // B, M or 0 (normal)
  bool has_location = false;
  int x = 0, y = 0, radius = 0;  // centre from the bottom-left corner, radius, in pixels
  int line = 0;                  // line number in Info.txt
};

// Parses Info.txt; throws mbmd::Error naming file and line for a malformed row (or, with
// skip_bad, leaves that row out and lists it in `skipped`).
std::vector<MiasRow> parse_mias_info(const std::string& path, bool skip_bad,
                                     std::vector<SkippedItem>* skipped);

// The patient of film mdbNNN: films come in pairs of one woman (mdb001 and mdb002 -> "p001",
// mdb003 and mdb004 -> "p002", ...).
std::string mias_patient_id(const std::string& refnum);

// Box of a lesion row in an image of the given size: centre (X, (height - 1) - Y), the bottom-left
// origin turned top-left, +-radius, clipped to [0, width-1] x [0, height-1]. Throws mbmd::Error
// when the centre lies outside the image.
std::vector<float> mias_box(const MiasRow& row, int width, int height);

// The reader: films are found as root/mdbNNN.pgm, else root/mdbNNN.png; only headers are read.
// Defaults: classes CIRC, SPIC, MISC as one label "mass"; all films (masses_only for the paper's
// selection); films with a selected lesion at an unknown place left out (mdb059).
Dataset read_mias(const DatasetOptions& options);

}  // namespace mbmd::data
