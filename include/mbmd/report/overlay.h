// Pictures of detections: boxes and scores drawn onto a grey image (an 8-bit PNG through the data
// layer's writer), with a small built-in digit font so that no font library is needed.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "mbmd/model/roi_head.h"

namespace mbmd::engine {

// Draws a rectangle outline [x1, y1, x2, y2] (pixels, clipped to the image) of `thickness` pixels
// with value `value` into a float [H, W] image, in place.
void draw_rectangle(at::Tensor& image, float x1, float y1, float x2, float y2, int thickness,
                    float value);

// Draws `text` (digits, '.', '-', ' ') with its top-left corner at (x, y), each glyph 3x5 cells of
// `scale` pixels, on a filled background box; characters outside the font are drawn as blanks.
void draw_text(at::Tensor& image, int x, int y, const std::string& text, int scale, float value,
               float background);

// A copy of `grey` (float [H, W], 0..255) with each detection of score >= score_thr drawn as a
// white box with a black edge and its score ("0.87") above its top-left corner.
at::Tensor draw_detections(const at::Tensor& grey, const model::Detections& detections,
                           double score_thr);

// draw_detections written as an 8-bit grey PNG, atomically.
void write_overlay(const std::string& path, const at::Tensor& grey,
                   const model::Detections& detections, double score_thr);

}  // namespace mbmd::engine
