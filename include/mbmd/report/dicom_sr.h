// Detections as DICOM Structured Reports (docs/results.md, "DICOM SR"): one TID 1500 Imaging
// Measurement Report per source image, in a Comprehensive SR, for viewers and PACS. DCMTK's dcmsr
// writes the document; the template (TID 1500 with TID 1410 planar ROI groups) is built here,
// because DCMTK's TID 1500 classes only hold volumetric (TID 1411) groups.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace mbmd::engine {

// One detected mass: a box in the source image's pixel coordinates, where (0, 0) is the top-left
// corner of the top-left pixel (DICOM's convention, and the detector's), and its score.
struct SrFinding {
  int frame = -1;  // 0-based frame of a multi-frame image; -1 for a single-frame image
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  double score = 0;
};

// Who made the findings: written as the device observer, and as TID 4019 algorithm
// identification on each score.
struct SrAlgorithm {
  std::string name = "mbmd";
  std::string version;     // e.g. "0.1.0 (commit 9e7a7fc)"
  std::string model;       // e.g. "MBMDNet (ResNet-50 + MHFPN)"
  std::string parameters;  // config and checkpoint identity, e.g. "config=...; checkpoint=..."
};

// Writes the reports of one run: every report of a study goes into one new series of that study
// (a new series per run), instance numbers counting up.
class StructuredReportWriter {
 public:
  StructuredReportWriter(SrAlgorithm algorithm, double score_thr);

  // Writes `path` (atomically) for the DICOM image `source`: patient and study copied from it,
  // the image in the evidence and in the image library, and one measurement group per finding
  // scoring >= the threshold (a closed 5-point POLYLINE on the box corners, finding "Mass"
  // (SNOMED CT 4147007), the score); without such findings the report says that no mass was
  // found. mbmd::Error naming the file when the source cannot be read or the report written.
  void write(const std::string& source, const std::vector<SrFinding>& findings,
             const std::string& path);

 private:
  SrAlgorithm algorithm_;
  double score_thr_;
  std::string observer_uid_;
  std::map<std::string, std::string> series_by_study_;
  int instances_ = 0;
};

}  // namespace mbmd::engine
