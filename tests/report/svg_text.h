// Reading back what the report's SVG writers wrote: counts of a tag and an attribute's value.
#pragma once

#include <cmath>
#include <cstdlib>
#include <string>

namespace mbmd::testing {

inline size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The number in attribute `name` of the first element that holds `marker` (a class="..." or a
// tag); NaN when there is none.
inline double attribute_of(const std::string& svg, const std::string& marker,
                           const std::string& name) {
  const size_t at = svg.find(marker);
  if (at == std::string::npos) return std::nan("");
  const size_t begin = svg.rfind('<', at), end = svg.find('>', at);
  const std::string element = svg.substr(begin, end - begin);
  const size_t value = element.find(" " + name + "=\"");
  if (value == std::string::npos) return std::nan("");
  return std::strtod(element.c_str() + value + name.size() + 3, nullptr);
}

}  // namespace mbmd::testing
