// INbreast as distributed (docs/design.md, "Datasets"): AllDICOMs/NNNNNNNN_<patienthash>_MG_<L|R>_
// <CC|ML>_ANON.dcm, AllXML/NNNNNNNN.xml (Apple plist: Images -> ROIs -> Name, Point_px) and
// INbreast.csv (semicolon separated). A box is the bounding box of an ROI contour.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "mbmd/data/dataset.h"

namespace mbmd::data {

// What an INbreast DICOM file name says.
struct InbreastFileName {
  std::string image_id;    // "NNNNNNNN", also the XML name and the CSV "File Name"
  std::string patient_id;  // the hash: the films of one woman share it
  std::string laterality;  // "L" or "R"
  std::string view;        // "CC" or "MLO" (the name's "ML")
};

// Parses NNNNNNNN_<hash>_MG_<L|R>_<CC|ML>_ANON.dcm (a path is fine); throws mbmd::Error naming
// the file when the name does not follow the pattern.
InbreastFileName parse_inbreast_file_name(const std::string& path);

struct InbreastRoi {
  std::string name;                               // "Mass", "Calcification", ...
  std::vector<std::pair<double, double>> points;  // Point_px, (x, y) in pixels
  int line = 0;                                   // line of the ROI in the XML file
};

// Every ROI of every image of an AllXML/NNNNNNNN.xml file. Throws mbmd::Error naming the file
// and line for malformed XML, a missing key or an unreadable "(x, y)" point.
std::vector<InbreastRoi> read_inbreast_rois(const std::string& xml_path);

// The reader. Defaults: ROI name "Mass" (case-insensitive; DatasetOptions::classes selects
// others) as one label "mass"; all films, those without an XML file have no findings
// (masses_only keeps the films with boxes). INbreast.csv, when present, must list Laterality,
// View and File Name; its rows must name existing films and agree with the file names.
Dataset read_inbreast(const DatasetOptions& options);

}  // namespace mbmd::data
