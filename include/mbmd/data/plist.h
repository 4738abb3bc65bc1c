// A small reader for Apple XML property lists (the INbreast annotations, AllXML/NNNNNNNN.xml):
// exactly what plists need — <dict> with <key>s, <array>, <string>, <integer>, <real>, <true/>,
// <false/> (and <date>/<data> kept as text) — with errors that name the file and line.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mbmd::data {

class PlistValue {
 public:
  enum class Type { dict, array, string, integer, real, boolean };

  Type type = Type::string;
  std::string text;  // string (and date/data) contents; the literal of integer and real
  int64_t integer = 0;
  double real = 0.0;
  bool boolean = false;
  std::vector<PlistValue> items;                           // array elements
  std::vector<std::pair<std::string, PlistValue>> fields;  // dict entries, in file order
  int line = 0;                                            // where the value starts
  std::string source;                                      // file name, for messages

  // Dict access: nullptr when the key is absent.
  const PlistValue* find(const std::string& key) const;
  // Dict access that throws mbmd::Error naming the file, line and key when absent.
  const PlistValue& at(const std::string& key) const;
  // Checked views: throw mbmd::Error naming the file, line and what was found instead.
  const std::vector<PlistValue>& as_array() const;
  const std::string& as_string() const;
  double as_number() const;  // integer or real

  static const char* type_name(Type type);
};

// Parses plist XML text; `source` names it in messages. Throws mbmd::Error on malformed XML
// (unclosed or mismatched tags, a dict without keys, an unknown element, bad numbers).
PlistValue parse_plist(const std::string& text, const std::string& source);

// Reads and parses a plist file.
PlistValue read_plist(const std::string& path);

}  // namespace mbmd::data
