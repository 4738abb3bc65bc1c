// Apple XML property lists: a recursive-descent reader for the plist subset of XML (elements,
// attributes ignored, character data with the five predefined entities and numeric character
// references, CDATA, comments, the XML declaration and DOCTYPE).
#include "mbmd/data/plist.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "mbmd/core/error.h"
#include "mbmd/core/strings.h"

namespace mbmd::data {
namespace {

class PlistParser {
 public:
  PlistParser(const std::string& text, const std::string& source) : s_(text), source_(source) {}

  PlistValue parse_document() {
    skip_misc();
    if (at_end()) fail("empty document (no plist element)");
    Tag tag = read_start_tag();
    PlistValue root;
    if (tag.name == "plist") {
      if (tag.self_closing) fail("<plist/> holds no value");
      skip_misc();
      root = parse_value(read_start_tag());
      skip_misc();
      expect_end_tag("plist");
    } else {
      root = parse_value(tag);  // a bare value without the <plist> wrapper
    }
    skip_misc();
    if (!at_end()) fail("unexpected content after the end of the plist");
    return root;
  }

 private:
  struct Tag {
    std::string name;
    bool self_closing = false;
    int line = 0;
  };

  [[noreturn]] void fail(const std::string& message) const {
    throw Error(source_ + ":" + std::to_string(line_) + ": malformed plist XML: " + message);
  }

  bool at_end() const { return pos_ >= s_.size(); }
  bool starts_with(const char* prefix) const {
    return s_.compare(pos_, strlen(prefix), prefix) == 0;
  }

  void advance(size_t n) {
    for (size_t i = 0; i < n && pos_ < s_.size(); ++i, ++pos_)
      if (s_[pos_] == '\n') ++line_;
  }

  void skip_space() {
    while (!at_end() && std::isspace(static_cast<unsigned char>(s_[pos_]))) advance(1);
  }

  // Skips to just after `terminator`, failing with `what` when the text ends first.
  void skip_past(const char* terminator, const char* what) {
    const size_t end = s_.find(terminator, pos_);
    if (end == std::string::npos) fail(std::string("unterminated ") + what);
    advance(end + strlen(terminator) - pos_);
  }

  // White space, comments, processing instructions (<?xml ...?>) and the DOCTYPE.
  void skip_misc() {
    while (true) {
      skip_space();
      if (starts_with("<!--")) {
        skip_past("-->", "comment");
      } else if (starts_with("<?")) {
        skip_past("?>", "processing instruction");
      } else if (starts_with("<!DOCTYPE")) {
        int depth = 0;
        while (true) {
          if (at_end()) fail("unterminated DOCTYPE");
          const char c = s_[pos_];
          advance(1);
          if (c == '[') ++depth;
          if (c == ']') --depth;
          if (c == '>' && depth <= 0) break;
        }
      } else {
        return;
      }
    }
  }

  std::string read_name() {
    const size_t start = pos_;
    while (!at_end() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_' ||
                         s_[pos_] == '-' || s_[pos_] == ':' || s_[pos_] == '.'))
      advance(1);
    if (pos_ == start) fail("expected an element name");
    return s_.substr(start, pos_ - start);
  }

  Tag read_start_tag() {
    Tag tag;
    tag.line = line_;
    if (at_end()) fail("unexpected end of file, expected an element");
    if (s_[pos_] != '<') fail("expected an element, found text '" + snippet() + "'");
    if (starts_with("</")) fail("unexpected end tag '" + snippet() + "'");
    advance(1);
    tag.name = read_name();
    // Attributes (plist version="1.0") are read past, quoted values included.
    while (true) {
      skip_space();
      if (at_end()) fail("unterminated start tag <" + tag.name);
      const char c = s_[pos_];
      if (c == '>') {
        advance(1);
        return tag;
      }
      if (c == '/') {
        if (!starts_with("/>")) fail("stray '/' in tag <" + tag.name + ">");
        advance(2);
        tag.self_closing = true;
        return tag;
      }
      read_name();
      skip_space();
      if (at_end() || s_[pos_] != '=') fail("attribute without a value in <" + tag.name + ">");
      advance(1);
      skip_space();
      if (at_end() || (s_[pos_] != '"' && s_[pos_] != '\''))
        fail("unquoted attribute value in <" + tag.name + ">");
      const char quote = s_[pos_];
      advance(1);
      const size_t end = s_.find(quote, pos_);
      if (end == std::string::npos) fail("unterminated attribute value in <" + tag.name + ">");
      advance(end + 1 - pos_);
    }
  }

  void expect_end_tag(const std::string& name) {
    if (at_end()) fail("unexpected end of file, expected </" + name + ">");
    if (!starts_with("</")) fail("expected </" + name + ">, found '" + snippet() + "'");
    advance(2);
    const std::string found = read_name();
    skip_space();
    if (at_end() || s_[pos_] != '>') fail("unterminated end tag </" + found);
    advance(1);
    if (found != name) fail("mismatched tags: <" + name + "> closed by </" + found + ">");
  }

  std::string snippet() const {
    std::string out = s_.substr(pos_, 24);
    const size_t nl = out.find('\n');
    if (nl != std::string::npos) out.resize(nl);
    return out;
  }

  void append_utf8(std::string& out, unsigned long code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code <= 0x10FFFF) {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      fail("character reference beyond Unicode");
    }
  }

  // Character data up to the next tag, entities decoded; comments are skipped, CDATA kept.
  std::string read_text(const std::string& element) {
    std::string out;
    while (true) {
      if (at_end()) fail("unexpected end of file inside <" + element + ">");
      if (starts_with("<![CDATA[")) {
        advance(9);
        const size_t end = s_.find("]]>", pos_);
        if (end == std::string::npos) fail("unterminated CDATA section");
        out += s_.substr(pos_, end - pos_);
        advance(end + 3 - pos_);
        continue;
      }
      if (starts_with("<!--")) {
        skip_past("-->", "comment");
        continue;
      }
      const char c = s_[pos_];
      if (c == '<') return out;
      if (c == '&') {
        const size_t end = s_.find(';', pos_);
        if (end == std::string::npos || end - pos_ > 12) fail("unterminated entity reference");
        const std::string entity = s_.substr(pos_ + 1, end - pos_ - 1);
        if (entity == "amp") {
          out += '&';
        } else if (entity == "lt") {
          out += '<';
        } else if (entity == "gt") {
          out += '>';
        } else if (entity == "quot") {
          out += '"';
        } else if (entity == "apos") {
          out += '\'';
        } else if (entity.size() > 1 && entity[0] == '#') {
          const bool hex = entity[1] == 'x' || entity[1] == 'X';
          const std::string digits = entity.substr(hex ? 2 : 1);
          char* stop = nullptr;
          const unsigned long code = std::strtoul(digits.c_str(), &stop, hex ? 16 : 10);
          if (digits.empty() || *stop != '\0') fail("bad character reference &" + entity + ";");
          append_utf8(out, code);
        } else {
          fail("unknown entity &" + entity + ";");
        }
        advance(end + 1 - pos_);
        continue;
      }
      out += c;
      advance(1);
    }
  }

  // The text of a leaf element whose start tag was read.
  std::string leaf_text(const Tag& tag) {
    if (tag.self_closing) return "";
    std::string text = read_text(tag.name);
    expect_end_tag(tag.name);
    return text;
  }

  // Reads the children of a container element up to its end tag, calling `read_child` with the
  // parser at the start of each.
  template <typename ReadChild>
  void read_children(const Tag& tag, ReadChild&& read_child) {
    if (tag.self_closing) return;
    while (true) {
      skip_misc();
      if (starts_with("</")) return expect_end_tag(tag.name);
      read_child();
    }
  }

  PlistValue parse_value(const Tag& tag) {
    PlistValue v;
    v.line = tag.line;
    v.source = source_;
    const std::string& n = tag.name;
    if (n == "dict") {
      v.type = PlistValue::Type::dict;
      read_children(tag, [&] { v.fields.push_back(parse_dict_entry()); });
    } else if (n == "array") {
      v.type = PlistValue::Type::array;
      read_children(tag, [&] { v.items.push_back(parse_value(read_start_tag())); });
    } else if (n == "string" || n == "date" || n == "data") {
      v.type = PlistValue::Type::string;
      v.text = leaf_text(tag);
    } else if (n == "integer" || n == "real") {
      parse_number(tag, v);
    } else if (n == "true" || n == "false") {
      v.type = PlistValue::Type::boolean;
      v.boolean = n == "true";
      if (!trim(leaf_text(tag)).empty()) fail("<" + n + "> must be empty");
    } else if (n == "key") {
      fail("<key> outside a <dict>");
    } else {
      fail("unknown plist element <" + n + ">");
    }
    return v;
  }

  // <key>name</key> and the value after it.
  std::pair<std::string, PlistValue> parse_dict_entry() {
    const Tag key = read_start_tag();
    if (key.name != "key") fail("expected <key> in <dict>, found <" + key.name + ">");
    std::string name = leaf_text(key);
    skip_misc();
    if (starts_with("</")) fail("<key>" + name + "</key> has no value");
    PlistValue value = parse_value(read_start_tag());
    return {std::move(name), std::move(value)};
  }

  void parse_number(const Tag& tag, PlistValue& v) {
    const std::string& n = tag.name;
    v.text = trim(leaf_text(tag));
    if (v.text.empty()) fail("empty <" + n + ">");
    char* stop = nullptr;
    errno = 0;
    if (n == "integer") {
      v.type = PlistValue::Type::integer;
      v.integer = std::strtoll(v.text.c_str(), &stop, 10);
      v.real = static_cast<double>(v.integer);
    } else {
      v.type = PlistValue::Type::real;
      v.real = std::strtod(v.text.c_str(), &stop);
    }
    if (*stop != '\0' || errno == ERANGE) fail("<" + n + "> '" + v.text + "' is not a number");
  }

  const std::string& s_;
  std::string source_;
  size_t pos_ = 0;
  int line_ = 1;
};

[[noreturn]] void wrong_type(const PlistValue& value, const std::string& expected) {
  throw Error(value.source + ":" + std::to_string(value.line) + ": expected " + expected +
              ", found " + PlistValue::type_name(value.type));
}

}  // namespace

const char* PlistValue::type_name(Type type) {
  static constexpr std::pair<Type, const char*> kNames[] = {
      {Type::dict, "dict"},       {Type::array, "array"}, {Type::string, "string"},
      {Type::integer, "integer"}, {Type::real, "real"},   {Type::boolean, "boolean"}};
  for (const auto& [t, name] : kNames)
    if (t == type) return name;
  return "?";
}

const PlistValue* PlistValue::find(const std::string& key) const {
  if (type != Type::dict) return nullptr;
  for (const auto& [name, value] : fields)
    if (name == key) return &value;
  return nullptr;
}

const PlistValue& PlistValue::at(const std::string& key) const {
  if (type != Type::dict) wrong_type(*this, "a dict holding '" + key + "'");
  if (const PlistValue* v = find(key)) return *v;
  throw Error(source + ":" + std::to_string(line) + ": dict has no key '" + key + "'");
}

const std::vector<PlistValue>& PlistValue::as_array() const {
  if (type != Type::array) wrong_type(*this, "an array");
  return items;
}

const std::string& PlistValue::as_string() const {
  if (type != Type::string) wrong_type(*this, "a string");
  return text;
}

double PlistValue::as_number() const {
  if (type != Type::integer && type != Type::real) wrong_type(*this, "a number");
  return real;
}

PlistValue parse_plist(const std::string& text, const std::string& source) {
  return PlistParser(text, source).parse_document();
}

PlistValue read_plist(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the plist file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return parse_plist(buffer.str(), path);
}

}  // namespace mbmd::data
