// BCS-DBT (Duke breast cancer screening, digital breast tomosynthesis, on TCIA;
// docs/design.md, "Datasets"): the three CSVs and the multi-frame DICOM volumes, turned into 2D
// slice samples as the reference reader (mazurowski-lab/duke-dbt-data, dcmread_image) shows them.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "mbmd/data/csv.h"
#include "mbmd/data/dataset.h"

namespace mbmd::data {

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

// The slice of a BCS-DBT sample (its frame, laterality and file) as load_bcsdbt_slice shows it:
// the slice loader of the "bcsdbt" entry in the dataset table (Sample::slice_display).
at::Tensor load_bcsdbt_sample_slice(const Sample& sample);

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
// Y + Height; the flip happens when a slice is loaded (Sample::slice_display "bcsdbt").
Dataset read_bcsdbt(const DatasetOptions& options);

}  // namespace mbmd::data
