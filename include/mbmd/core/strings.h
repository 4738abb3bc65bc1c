// Small text helpers shared by the readers and commands (one owner, so that every reader trims
// and compares case the same way).
#pragma once

#include <string>
#include <vector>

namespace mbmd {

// `s` without leading and trailing white space.
std::string trim(const std::string& s);

// ASCII lower and upper case.
std::string lower(std::string s);
std::string upper(std::string s);

// The parts of `s` between `sep`s (an empty `s` gives one empty part).
std::vector<std::string> split(const std::string& s, char sep);

// The parts with `sep` between them.
std::string join(const std::vector<std::string>& parts, const std::string& sep);

// `value` with `decimals` digits after the point ("%.*f"): 0.12345 -> "0.1235".
std::string fixed_text(double value, int decimals = 4);

// `value` with `digits` significant digits ("%.*g"): 0.000123456 -> "0.0001235"; "inf", "-inf"
// or "nan" when it is not finite.
std::string significant_text(double value, int digits = 4);

// A Markdown table: `header` names the columns; the first column is left-aligned (names), the
// others right-aligned (numbers). Each row has one cell per column.
std::string markdown_table(const std::vector<std::string>& header,
                           const std::vector<std::vector<std::string>>& rows);

// True when `s` is non-empty and holds only the digits 0-9.
bool all_digits(const std::string& s);

}  // namespace mbmd
