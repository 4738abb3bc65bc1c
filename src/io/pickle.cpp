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
  for (const auto& [key, value] : entries) out[key_text(*key)] = json_of(*value, depth);
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
      return v.text;
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
      return v.text;
    case Kind::Object: {
      // Dict and list subclasses (mmcv's ConfigDict) keep their items; other objects are named.
      if (!v.entries.empty()) return json_object(v.entries, depth + 1);
      if (!v.items.empty()) return json_array(v.items, depth + 1);
      return "<" + v.text + " object>";
    }
  }
  return nullptr;
}

}  // namespace

nlohmann::json to_json(const PickleValue& value) { return json_of(value, 0); }

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
