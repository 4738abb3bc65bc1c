#include "mbmd/data/dicom_header.h"

#include <nlohmann/json.hpp>

namespace mbmd::data {

void to_json(nlohmann::json& j, const DicomHeader& h) {
  j = {{"file", h.file},
       {"rows", h.rows},
       {"cols", h.cols},
       {"frames", h.frames},
       {"bits_allocated", h.bits_allocated},
       {"bits_stored", h.bits_stored},
       {"high_bit", h.high_bit},
       {"is_signed", h.is_signed},
       {"photometric", h.photometric},
       {"transfer_syntax", h.transfer_syntax},
       {"sop_class", h.sop_class},
       {"laterality", h.laterality},
       {"view", h.view},
       {"patient_id", h.patient_id},
       {"rescale_slope", h.rescale_slope},
       {"rescale_intercept", h.rescale_intercept},
       {"has_window", h.has_window},
       {"window_center", h.window_center},
       {"window_width", h.window_width},
       {"voi_function", h.voi_function},
       {"voi_lut",
        {{"first_mapped", h.voi_lut.first_mapped},
         {"bits", h.voi_lut.bits},
         {"table", h.voi_lut.table}}}};
}

void from_json(const nlohmann::json& j, DicomHeader& h) {
  j.at("file").get_to(h.file);
  j.at("rows").get_to(h.rows);
  j.at("cols").get_to(h.cols);
  j.at("frames").get_to(h.frames);
  j.at("bits_allocated").get_to(h.bits_allocated);
  j.at("bits_stored").get_to(h.bits_stored);
  j.at("high_bit").get_to(h.high_bit);
  j.at("is_signed").get_to(h.is_signed);
  j.at("photometric").get_to(h.photometric);
  j.at("transfer_syntax").get_to(h.transfer_syntax);
  j.at("sop_class").get_to(h.sop_class);
  j.at("laterality").get_to(h.laterality);
  j.at("view").get_to(h.view);
  j.at("patient_id").get_to(h.patient_id);
  j.at("rescale_slope").get_to(h.rescale_slope);
  j.at("rescale_intercept").get_to(h.rescale_intercept);
  j.at("has_window").get_to(h.has_window);
  j.at("window_center").get_to(h.window_center);
  j.at("window_width").get_to(h.window_width);
  j.at("voi_function").get_to(h.voi_function);
  const nlohmann::json& lut = j.at("voi_lut");
  lut.at("first_mapped").get_to(h.voi_lut.first_mapped);
  lut.at("bits").get_to(h.voi_lut.bits);
  lut.at("table").get_to(h.voi_lut.table);
}

}  // namespace mbmd::data
