// BCS-DBT (Duke breast cancer screening, digital breast tomosynthesis, on TCIA; design notes,
// section 5): the three CSVs and the multi-frame DICOM volumes, turned into 2D slice samples as
// the reference reader (mazurowski-lab/duke-dbt-data, dcmread_image) shows them.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "mbmd/data/dataset.h"

namespace mbmd::data {

// A delimited text table (the BCS-DBT CSVs, and INbreast.csv with ';'): quoted fields as RFC
// 4180, a UTF-8 byte-order mark and CR line ends tolerated, blank lines skipped.
struct CsvTable {
  std::string file;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each as long as the header
  std::vector<int> lines;                      // line number of each row
  // Index of a column; throws mbmd::Error naming the file and the column when it is absent.
  size_t column(const std::string& name) const;
};

// Reads a table and checks that every column in `required` is there (mbmd::Error naming the file
// and the first missing column otherwise). A row with a different number of fields than the
// header is an error naming file and line.
CsvTable read_csv(const std::string& path, char delimiter,
                  const std::vector<std::string>& required = {});

// The reference reader's laterality rule on one frame (stored or modality values, [H, W]): the
// breast lies on the side whose edge column holds more signal; "R" when the left edge sum is
// smaller than the right one, otherwise "L". The frame is flipped on both axes when this differs
// from the view's laterality.
std::string bcsdbt_image_laterality(const at::Tensor& frame);

// One slice as the reference reader returns it: frame `frame` of the volume, flipped on both axes
// when its laterality disagrees with `view_laterality` ("L"/"R"), windowed with the centre and
// width of the shared functional groups as skimage's rescale_intensity does (DICOM LINEAR_EXACT),
// scaled to 0..255 in float. [H, W].
at::Tensor load_bcsdbt_slice(const std::string& file, int frame,
                             const std::string& view_laterality);

// The reader. The CSVs "BCS-DBT file-paths-<part>.csv", "BCS-DBT labels-<part>.csv" and
// "BCS-DBT boxes-<part>.csv" are found in the root (every part, or extra "subset"); volume paths
// are relative to the root (extra "images" for another folder), descriptive_path first, then
// classic_path. Samples:
// - every slice holding a box centre of a selected class (default benign and cancer, one label
//   "mass"), with extra "neighbour_slices" = k also the k slices on each side (clamped), each
//   with the boxes whose centre slice is within k;
// - extra "normal_slices" = n evenly spaced slices (default 1, the central one; "all"; 0 none)
//   of each normal volume (left out with masses_only);
// - extra "distortions" = "keep" (default) or "drop" the boxes marked AD (architectural
//   distortion).
// Benign or cancer volumes without a box are left out as located nowhere (kept and flagged, at
// the central slice, with keep_unlocated); actionable-only volumes are left out. Boxes are in the
// reference reader's (flipped) coordinates, so Sample boxes are the CSV's X, Y, X + Width,
// Y + Height; the flip happens when a slice is loaded (load_dicom_sample).
Dataset read_bcsdbt(const DatasetOptions& options);

}  // namespace mbmd::data
