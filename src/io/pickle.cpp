// The value tree of include/mbmd/io/pickle.h: lookups, descriptions for error messages and the
// JSON form. Reading pickles is in pickle_machine.cpp, writing them in pickle_writer.cpp.
#include "mbmd/io/pickle.h"

#include <ATen/ATen.h>

#include <iomanip>
#include <sstream>

namespace mbmd::io {

namespace {

using Kind = PickleValue::Kind;
using Json = nlohmann::json;

// The length of the well-formed UTF-8 sequence that starts at text[i] (the Unicode standard's
// table 3-7, which nlohmann::json's writer also enforces), or 0 when none starts there.
size_t utf8_sequence_length(const std::string& text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t lead = byte(i);
  if (lead < 0x80) return 1;
  size_t n = 0;
  uint8_t low = 0x80;  // the range of the second byte
  uint8_t high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    n = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    n = 3;
    if (lead == 0xe0) low = 0xa0;   // overlong
    if (lead == 0xed) high = 0x9f;  // surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    n = 4;
    if (lead == 0xf0) low = 0x90;   // overlong
    if (lead == 0xf4) high = 0x8f;  // past U+10FFFF
  } else {
    return 0;
  }
  if (text.size() - i < n || byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
  }
  return n;
}

// A dict key as JSON object keys need it: text.
std::string key_text(const PickleValue& key) {
  switch (key.kind) {
    case Kind::String:
      return key.text;
    case Kind::Int:
      return std::to_string(key.integer);
    case Kind::Bool:
      return key.boolean ? "True" : "False";
    case Kind::None:
      return "None";
    case Kind::Float: {
      std::ostringstream s;
      s << key.number;
      return s.str();
    }
    default:
      return "<" + key.describe() + ">";
  }
}

Json json_of(const PickleValue& v, int depth);

// List, tuple and list-subclass items as a JSON array, at nesting depth `depth`.
Json json_array(const std::vector<PickleRef>& items, int depth) {
  Json out = Json::array();
  for (const auto& item : items) out.push_back(json_of(*item, depth));
  return out;
}

// Dict and dict-subclass entries as a JSON object, at nesting depth `depth`.
Json json_object(const std::vector<std::pair<PickleRef, PickleRef>>& entries, int depth) {
  Json out = Json::object();
  for (const auto& [key, value] : entries) {
    out[valid_utf8(key_text(*key))] = json_of(*value, depth);
  }
  return out;
}

Json json_of(const PickleValue& v, int depth) {
  if (depth > 64) return "<nested too deeply>";
  switch (v.kind) {
    case Kind::None:
      return nullptr;
    case Kind::Bool:
      return v.boolean;
    case Kind::Int:
      return v.integer;
    case Kind::BigInt: {
      std::ostringstream s;
      s << "<int 0x";
      for (auto it = v.text.rbegin(); it != v.text.rend(); ++it) {
        s << std::hex << std::setw(2) << std::setfill('0') << (static_cast<unsigned>(*it) & 0xffu);
      }
      s << ">";
      return s.str();
    }
    case Kind::Float:
      return v.number;
    case Kind::String:
      return valid_utf8(v.text);
    case Kind::Bytes:
      return "<bytes of length " + std::to_string(v.text.size()) + ">";
    case Kind::List:
    case Kind::Tuple:
      return json_array(v.items, depth + 1);
    case Kind::Dict:
      return json_object(v.entries, depth + 1);
    case Kind::Storage:
      return "<storage>";
    case Kind::Tensor: {
      std::ostringstream s;
      s << "<tensor " << v.tensor.scalar_type() << " " << v.tensor.sizes() << ">";
      return s.str();
    }
    case Kind::Global:
      return valid_utf8(v.text);
    case Kind::Object: {
      // Dict and list subclasses (mmcv's ConfigDict) keep their items; other objects are named.
      if (!v.entries.empty()) return json_object(v.entries, depth + 1);
      if (!v.items.empty()) return json_array(v.items, depth + 1);
      return valid_utf8("<" + v.text + " object>");
    }
  }
  return nullptr;
}

}  // namespace

nlohmann::json to_json(const PickleValue& value) { return json_of(value, 0); }

std::string valid_utf8(const std::string& text) {
  size_t i = 0;
  size_t n = 0;
  while (i < text.size() && (n = utf8_sequence_length(text, i)) > 0) i += n;
  if (i == text.size()) return text;  // the usual case: nothing to replace
  std::string out = text.substr(0, i);
  while (i < text.size()) {
    n = utf8_sequence_length(text, i);
    if (n == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD REPLACEMENT CHARACTER, for this one byte
      n = 1;
    } else {
      out.append(text, i, n);
    }
    i += n;
  }
  return out;
}

const PickleValue* PickleValue::find(const std::string& key) const {
  for (const auto& [k, v] : entries) {
    if (k->kind == Kind::String && k->text == key) return v.get();
  }
  return nullptr;
}

std::string PickleValue::describe() const {
  switch (kind) {
    case Kind::None:
      return "None";
    case Kind::Bool:
      return boolean ? "True" : "False";
    case Kind::Int:
      return "the integer " + std::to_string(integer);
    case Kind::BigInt:
      return "a long integer";
    case Kind::Float: {
      std::ostringstream s;
      s << "the number " << number;
      return s.str();
    }
    case Kind::String:
      return "the text '" + (text.size() > 40 ? text.substr(0, 40) + "..." : text) + "'";
    case Kind::Bytes:
      return "bytes of length " + std::to_string(text.size());
    case Kind::List:
      return "a list of " + std::to_string(items.size()) + " items";
    case Kind::Tuple:
      return "a tuple of " + std::to_string(items.size()) + " items";
    case Kind::Dict:
      return std::string(ordered ? "an OrderedDict" : "a dict") + " of " +
             std::to_string(entries.size()) + " entries";
    case Kind::Storage:
      return "a storage";
    case Kind::Tensor: {
      std::ostringstream s;
      s << "a " << tensor.scalar_type() << " tensor of shape " << tensor.sizes();
      return s.str();
    }
    case Kind::Global:
      return "the class or function " + text;
    case Kind::Object:
      return "an object of class " + text;
  }
  return "?";
}

}  // namespace mbmd::io
